/*!
 * Reveal credentials: calls the key's bound action revealCredentials (read live from Service Manager and
 * audit-logged by the service) and shows the JSON in a dialog. The secret is kept in no model and is
 * dropped with the dialog. Download credentials: saves the key's JSON file through downloadCredentials.
 */
sap.ui.define(
  [
    "sap/m/Button",
    "sap/m/Dialog",
    "sap/m/MessageBox",
    "sap/m/MessageToast",
    "sap/m/TextArea",
    "sap/ui/core/BusyIndicator",
    "btp/provisioning/shared/Texts"
  ],
  function (Button, Dialog, MessageBox, MessageToast, TextArea, BusyIndicator, Texts) {
    "use strict";

    var ACTION = "ProvisioningService.revealCredentials(...)";

    function text(api, key) {
      return api.getModel("i18n").getResourceBundle().getText(key);
    }

    /** Copies the text to the clipboard: the Clipboard API, else the selected text area. */
    function copy(area) {
      var value = area.getValue();
      var done = navigator.clipboard && window.isSecureContext ? navigator.clipboard.writeText(value) : Promise.reject(new Error("no clipboard"));
      return done
        .catch(function () {
          var dom = area.getFocusDomRef();
          dom.focus();
          dom.select();
          if (!document.execCommand("copy")) throw new Error("copy refused");
        })
        .then(
          function () {
            return Texts.get("copied");
          },
          function () {
            return Texts.get("copyFailed");
          }
        )
        .then(function (message) {
          MessageToast.show(message);
        });
    }

    function show(api, credentials, copyText) {
      var area = new TextArea({ editable: false, width: "100%", rows: 18 });
      // set, not passed to the constructor: a JSON text there would be taken for a binding
      area.setValue(credentials);
      var dialog = new Dialog({
        title: text(api, "credentialsTitle"),
        contentWidth: "44rem",
        resizable: true,
        draggable: true,
        content: [area],
        beginButton: new Button({
          text: copyText,
          icon: "sap-icon://copy",
          press: function () {
            copy(area);
          }
        }),
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
              return Texts.get("copy").then(function (copyText) {
                show(api, result.value, copyText);
              });
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

      /**
       * Object page header action of a service key: saves the cockpit-style service key JSON file (the
       * service's downloadCredentials function, read live and audit-logged). The file goes from the
       * response straight to the browser's download; nothing is kept.
       * @param {sap.ui.model.odata.v4.Context} keyContext the key shown on the page
       * @this sap.fe.core.ExtensionAPI
       */
      download: function (keyContext) {
        var model = keyContext.getModel();
        var url = new URL(model.getServiceUrl() + keyContext.getPath().slice(1) + "/ProvisioningService.downloadCredentials()", document.baseURI).href;
        var fallbackName = (keyContext.getProperty("name") || "service-key") + ".json";
        BusyIndicator.show(0);
        return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (response) {
            if (!response.ok) {
              return response.json().then(
                function (body) {
                  throw new Error((body && body.error && body.error.message) || response.statusText);
                },
                function () {
                  throw new Error(response.status + " " + response.statusText);
                }
              );
            }
            var disposition = response.headers.get("Content-Disposition") || "";
            var match = /filename="([^"]+)"/.exec(disposition);
            return response.blob().then(function (blob) {
              var link = document.createElement("a");
              link.href = URL.createObjectURL(blob);
              link.download = match ? match[1] : fallbackName;
              document.body.appendChild(link);
              link.click();
              link.remove();
              Texts.get("downloaded", [link.download]).then(function (message) {
                MessageToast.show(message);
              });
              setTimeout(function () {
                URL.revokeObjectURL(link.href);
              }, 0);
            });
          })
          .catch(function (error) {
            MessageBox.error(error.message);
          })
          .finally(function () {
            BusyIndicator.hide();
          });
      },

      /** Only keys that exist in Service Manager have credentials. */
      isAvailable: function (keyContext) {
        return !!keyContext && keyContext.getProperty("state_code") === "Ready";
      }
    };
  }
);
