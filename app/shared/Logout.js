/*!
 * Log out through the application router: its logout endpoint accepts only POST with a CSRF token
 * (app/router/xs-app.json), then answers with the identity provider's logout URL, which ends on the
 * public page /logged-out.html. The entry page binds it to elements with `data-logout`; the Fiori apps
 * use it as the module btp.provisioning.shared.Logout (a header action `press`).
 * Without the application router (local development, mocked users) there is no session to end.
 */
(function () {
  "use strict";

  var ENDPOINT = "/do/logout";

  var NO_ROUTER = "Logging out needs the application router; locally there is no session to end.";

  function logout(report) {
    return fetch(ENDPOINT, { method: "GET", credentials: "same-origin", headers: { "X-CSRF-Token": "fetch" } })
      .then(function (response) {
        var token = response.headers.get("X-CSRF-Token");
        if (!response.ok || !token) throw new Error("no logout endpoint");
        return fetch(ENDPOINT, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": token } });
      })
      .then(function (response) {
        if (!response.ok) throw new Error("logout refused");
        return response.text();
      })
      .then(function (target) {
        window.location.href = /^(https?:)?\//.test(target) ? target : "/logged-out.html";
      })
      .catch(function () {
        report(NO_ROUTER);
      });
  }

  if (window.sap && window.sap.ui && typeof window.sap.ui.define === "function") {
    window.sap.ui.define(["sap/m/MessageToast"], function (MessageToast) {
      return {
        press: function () {
          return logout(function (text) {
            MessageToast.show(text);
          });
        }
      };
    });
  } else {
    document.addEventListener("DOMContentLoaded", function () {
      var buttons = document.querySelectorAll("[data-logout]");
      var report = function (text) {
        var status = document.getElementById("logout-status");
        if (status) status.textContent = text;
      };
      for (var i = 0; i < buttons.length; i++)
        buttons[i].addEventListener("click", function () {
          logout(report);
        });
    });
  }
})();
