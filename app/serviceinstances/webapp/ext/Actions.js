/*
 * Custom actions of the Service Instances app: creating an instance and a key of an instance
 * (see btp/provisioning/shared/CreateDialog for why Fiori elements' own Create is not used).
 */
sap.ui.define(["btp/provisioning/shared/CreateDialog"], function (CreateDialog) {
  "use strict";

  return {
    /** List report: a new service instance. */
    createInstance: function () {
      return CreateDialog.open(this, {
        fragment: "btp.provisioning.serviceinstances.ext.CreateInstance",
        path: "/ServiceInstances",
        type: "typeInstance"
      });
    },

    /** Keys can be added while the instance is being created or ready (the service checks it again). */
    canCreateKey: function (pageContext) {
      var state = pageContext && pageContext.getProperty("state_code");
      return state === "Ready" || state === "Creating";
    },

    /** Object page of an instance: a new key of this instance. */
    createKey: function (pageContext) {
      return CreateDialog.open(this, {
        fragment: "btp.provisioning.serviceinstances.ext.CreateKey",
        path: "keys",
        parent: pageContext,
        contextPath: "/ServiceInstances/keys",
        type: "typeKey",
        refreshPath: "keys"
      });
    }
  };
});
