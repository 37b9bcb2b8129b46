/*!
 * What the signed-in user may do, for hiding actions the service would refuse. Reads the service's `Me`
 * singleton (computed from the user's roles) once per app start and keeps it in the named model
 * "permissions": { canProvision, canReadCredentials, canAdminister }, all false until known. Annotations
 * hide Fiori elements' own actions through the same singleton (/Me/...Hidden); this model serves the
 * custom actions of the manifests.
 */
sap.ui.define(["sap/ui/model/json/JSONModel"], function (JSONModel) {
  "use strict";

  var FLAGS = ["canProvision", "canReadCredentials", "canAdminister"];

  function serviceUrl(component) {
    var uri = component.getManifestEntry("/sap.app/dataSources/mainService/uri");
    return new URL(uri, document.baseURI).href;
  }

  return {
    /**
     * Sets the named model "permissions" on the component.
     * @param {sap.ui.core.UIComponent} component the app component
     * @returns {sap.ui.model.json.JSONModel} the model
     */
    attach: function (component) {
      var model = new JSONModel({ canProvision: false, canReadCredentials: false, canAdminister: false });
      component.setModel(model, "permissions");
      fetch(serviceUrl(component) + "Me", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : {};
        })
        .then(
          function (me) {
            FLAGS.forEach(function (flag) {
              model.setProperty("/" + flag, me[flag] === true);
            });
          },
          function () {
            /* unreachable service: keep the actions hidden */
          }
        );
      return model;
    }
  };
});
