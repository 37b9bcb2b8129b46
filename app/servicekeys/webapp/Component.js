sap.ui.define(["sap/fe/core/AppComponent"], function (AppComponent) {
  "use strict";

  return AppComponent.extend("btp.provisioning.servicekeys.Component", {
    metadata: {
      manifest: "json"
    }
  });
});
