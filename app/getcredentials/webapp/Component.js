sap.ui.define(["sap/ui/core/UIComponent", "btp/provisioning/shared/Permissions"], function (UIComponent, Permissions) {
  "use strict";

  return UIComponent.extend("btp.provisioning.getcredentials.Component", {
    metadata: {
      manifest: "json",
      interfaces: ["sap.ui.core.IAsyncContentCreation"]
    },

    init: function () {
      UIComponent.prototype.init.apply(this, arguments);
      Permissions.attach(this);
    }
  });
});
