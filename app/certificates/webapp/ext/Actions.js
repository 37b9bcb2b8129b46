/*
 * Custom actions of the Certificates app (see btp/provisioning/shared/CreateDialog for why Fiori
 * elements' own Create is not used).
 */
sap.ui.define(["btp/provisioning/shared/CreateDialog"], function (CreateDialog) {
  "use strict";

  /** The PEM file chosen in the upload dialog goes into the PEM field (and names the certificate if unnamed). */
  function readPemFile(event, context) {
    var files = event.getParameter("files");
    var file = files && files[0];
    if (!file) return undefined;
    return file.text().then(function (pem) {
      context.setProperty("pem", pem.trim());
      if (!context.getProperty("name")) context.setProperty("name", file.name.replace(/\.(pem|crt|cer)$/i, ""));
    });
  }

  return {
    /** List report: upload a certificate as PEM text; the service parses its facts. */
    uploadCertificate: function () {
      return CreateDialog.open(this, {
        fragment: "btp.provisioning.certificates.ext.UploadCertificate",
        path: "/Certificates",
        type: "typeCertificate",
        handlers: { onPemFile: readPemFile }
      });
    }
  };
});
