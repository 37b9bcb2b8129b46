/*!
 * List report action "Get Credentials" of the Service Instances and Service Keys apps: opens the guided flow
 * (app/getcredentials), whose back button returns to the app it was opened from.
 */
sap.ui.define([], function () {
  "use strict";

  return {
    /** @this sap.fe.core.ExtensionAPI */
    open: function () {
      // the app's folder: /serviceinstances/index.html -> serviceinstances
      var segments = window.location.pathname.split("/").filter(Boolean);
      var from = segments.length > 1 ? segments[segments.length - 2] : "";
      window.location.href = new URL("../getcredentials/index.html" + (from ? "?from=" + encodeURIComponent(from) : ""), window.location.href).href;
    }
  };
});
