/*
 * Custom actions of the Subaccounts app (see btp/provisioning/shared/CreateDialog for why Fiori
 * elements' own Create is not used).
 */
sap.ui.define(["btp/provisioning/shared/CreateDialog"], function (CreateDialog) {
  "use strict";

  return {
    /** List report: register a subaccount. */
    createSubaccount: function () {
      return CreateDialog.open(this, {
        fragment: "btp.provisioning.subaccounts.ext.CreateSubaccount",
        path: "/Subaccounts",
        type: "typeSubaccount",
        nameProperty: "displayName"
      });
    }
  };
});
