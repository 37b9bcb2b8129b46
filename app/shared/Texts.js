/*!
 * The texts of the modules in app/shared (i18n/i18n.properties): loaded once, without asking the server
 * for language variants that do not exist.
 */
sap.ui.define(["sap/base/i18n/ResourceBundle"], function (ResourceBundle) {
  "use strict";

  var bundle;

  return {
    /** @returns {Promise<sap.base.i18n.ResourceBundle>} the bundle */
    load: function () {
      if (!bundle) {
        bundle = ResourceBundle.create({
          bundleName: "btp.provisioning.shared.i18n.i18n",
          supportedLocales: [""],
          fallbackLocale: "",
          async: true
        });
      }
      return bundle;
    },

    /**
     * @param {string} key text key
     * @param {any[]} [args] placeholders
     * @returns {Promise<string>} the text
     */
    get: function (key, args) {
      return this.load().then(function (texts) {
        return texts.getText(key, args);
      });
    }
  };
});
