/*
 * Custom actions of the Certificates app (see btp/provisioning/shared/CreateDialog for why Fiori
 * elements' own Create is not used).
 */
sap.ui.define(["btp/provisioning/shared/CreateDialog"], function (CreateDialog) {
  "use strict";

  return {
    /** List report: upload a certificate as PEM text; the service parses its facts. */
    uploadCertificate: function () {
      return CreateDialog.open(this, {
        fragment: "btp.provisioning.certificates.ext.UploadCertificate",
        path: "/Certificates"
      });
    }
  };
});
