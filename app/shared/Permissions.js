/*!
 * What the signed-in user may do, for hiding actions the service would refuse. The service has no user
 * info endpoint, so this asks the authorization itself: revealing the credentials of a key that cannot
 * exist answers 403 to users without the CredentialReader role and 404 to those with it. No key is read
 * and nothing is audit-logged. Replace with a server-provided flag once the service offers one.
 */
sap.ui.define(["sap/ui/model/json/JSONModel"], function (JSONModel) {
  "use strict";

  var NO_KEY = "00000000-0000-0000-0000-000000000000";

  function serviceUrl(component) {
    var uri = component.getManifestEntry("/sap.app/dataSources/mainService/uri");
    return new URL(uri, document.baseURI).href;
  }

  return {
    /**
     * Sets the named model "permissions" on the component: { canRevealCredentials } (false until known).
     * @param {sap.ui.core.UIComponent} component the app component
     */
    attach: function (component) {
      var model = new JSONModel({ canRevealCredentials: false });
      component.setModel(model, "permissions");
      fetch(serviceUrl(component) + "ServiceKeys(" + NO_KEY + ")/ProvisioningService.revealCredentials", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: "{}"
      }).then(
        function (response) {
          model.setProperty("/canRevealCredentials", response.status === 404);
        },
        function () {
          /* unreachable service: keep the action hidden */
        }
      );
      return model;
    }
  };
});
