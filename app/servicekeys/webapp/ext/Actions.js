/*
 * Custom actions of the Service Keys app (see btp/provisioning/shared/CreateDialog for why Fiori
 * elements' own Create is not used).
 */
sap.ui.define(["btp/provisioning/shared/CreateDialog"], function (CreateDialog) {
  "use strict";

  return {
    /** List report: a new key of an instance chosen in the dialog. */
    createKey: function () {
      return CreateDialog.open(this, {
        fragment: "btp.provisioning.servicekeys.ext.CreateKey",
        path: "/ServiceKeys",
        type: "typeKey"
      });
    }
  };
});
