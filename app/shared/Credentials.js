/*!
 * Reveal credentials: calls the key's bound action revealCredentials (read live from Service Manager and
 * audit-logged by the service) and shows the JSON in a dialog. The secret is kept in no model and is
 * dropped with the dialog.
 */
sap.ui.define(
  ["sap/m/Button", "sap/m/Dialog", "sap/m/MessageBox", "sap/m/TextArea", "sap/ui/core/BusyIndicator"],
  function (Button, Dialog, MessageBox, TextArea, BusyIndicator) {
    "use strict";

    var ACTION = "ProvisioningService.revealCredentials(...)";

    function text(api, key) {
      return api.getModel("i18n").getResourceBundle().getText(key);
    }

    function show(api, credentials) {
      var area = new TextArea({ editable: false, width: "100%", rows: 18 });
      // set, not passed to the constructor: a JSON text there would be taken for a binding
      area.setValue(credentials);
      var dialog = new Dialog({
        title: text(api, "credentialsTitle"),
        contentWidth: "44rem",
        resizable: true,
        draggable: true,
        content: [area],
        endButton: new Button({
          text: text(api, "close"),
          press: function () {
            dialog.close();
          }
        }),
        afterClose: function () {
          dialog.destroy();
        }
      });
      dialog.addStyleClass("btpCredentialsDialog sapUiContentPadding");
      api.addDependent(dialog);
      dialog.open();
    }

    return {
      /**
       * Object page header action of a service key.
       * @param {sap.ui.model.odata.v4.Context} keyContext the key shown on the page
       * @this sap.fe.core.ExtensionAPI
       */
      reveal: function (keyContext) {
        var api = this;
        var operation = keyContext.getModel().bindContext(ACTION, keyContext);
        BusyIndicator.show(0);
        return operation
          .invoke()
          .then(function () {
            // requestObject, not getProperty: Fiori elements wraps the model's bindProperty
            return operation.getBoundContext().requestObject();
          })
          .then(
            function (result) {
              show(api, result.value);
            },
            function (error) {
              MessageBox.error(error.message);
            }
          )
          .finally(function () {
            BusyIndicator.hide();
            operation.destroy();
          });
      },

      /** Only keys that exist in Service Manager have credentials. */
      isAvailable: function (keyContext) {
        return !!keyContext && keyContext.getProperty("state_code") === "Ready";
      }
    };
  }
);
