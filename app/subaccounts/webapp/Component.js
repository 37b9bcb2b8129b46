sap.ui.define(["sap/fe/core/AppComponent", "btp/provisioning/shared/Permissions"], function (AppComponent, Permissions) {
  "use strict";

  return AppComponent.extend("btp.provisioning.subaccounts.Component", {
    metadata: {
      manifest: "json"
    },

    init: function () {
      AppComponent.prototype.init.apply(this, arguments);
      Permissions.attach(this);
    }
  });
});
