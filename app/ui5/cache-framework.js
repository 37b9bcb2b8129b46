/**
 * UI5 server middleware: lets the browser keep the framework's files for an hour instead of asking again
 * for each of the ~1,500 modules on every page load. The version is pinned in ui5.yaml; the app's own
 * files (served by each app's mount path) are not affected.
 */
module.exports = function () {
  return function cacheFramework(req, res, next) {
    if (req.method === "GET" && req.path.startsWith("/resources/")) {
      res.setHeader("Cache-Control", "public, max-age=3600");
    }
    next();
  };
};
