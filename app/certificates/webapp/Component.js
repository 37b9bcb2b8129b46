sap.ui.define(["sap/fe/core/AppComponent"], function (AppComponent) {
  "use strict";

  return AppComponent.extend("btp.provisioning.certificates.Component", {
    metadata: {
      manifest: "json"
    }
  });
});
