/**
 * UI5 server middleware: serves each framework library's library-preload.js, bundled on its first request
 * and then kept in memory, so that the browser loads a Fiori elements app in a few dozen requests instead
 * of ~1,500. The UI5 server serves the npm packages' sources as they are, without these bundles.
 * Bundles are not minified; the version is pinned in ui5.yaml.
 */
const PRELOAD = /^\/resources\/(.+)\/library-preload\.js$/;

// the same sections as the UI5 builder's generateLibraryPreload task (without sap-ui-core's content)
function bundleDefinition(namespace) {
  const filters = [
    `${namespace}/`,
    `${namespace}/**/manifest.json`,
    `!${namespace}/**/*-preload.js`,
    `!${namespace}/designtime/`,
    `!${namespace}/**/*.designtime.js`,
    `!${namespace}/**/*.support.js`
  ];
  if (namespace === "sap/ui/core") {
    filters.push(
      `!${namespace}/cldr/`,
      "sap/base/",
      "sap/ui/base/",
      "sap/ui/dom/",
      "sap/ui/events/",
      "sap/ui/model/",
      "sap/ui/security/",
      "sap/ui/util/",
      "!sap-ui-*.js",
      "!sap/ui/core/support/",
      "!sap/ui/core/plugin/"
    );
  }
  return {
    name: `${namespace}/library-preload.js`,
    defaultFileTypes: [".js", ".fragment.xml", ".view.xml", ".properties", ".json"],
    sections: [{ mode: "preload", filters, resolve: false, resolveConditional: false, renderer: true }]
  };
}

module.exports = async function ({ log, middlewareUtil }) {
  const { default: moduleBundler } = await import("@ui5/builder/processors/bundlers/moduleBundler");
  const bundles = new Map();

  async function build(namespace) {
    const project = middlewareUtil.getProject(namespace.replace(/\//g, "."));
    if (!project || project.getType() !== "library") return undefined;
    const started = Date.now();
    const resources = await project.getReader({ style: "runtime" }).byGlob("/**/*.{js,json,xml,properties}");
    const [result] = await moduleBundler({
      resources,
      options: {
        bundleDefinition: bundleDefinition(namespace),
        bundleOptions: { optimize: false, usePredefineCalls: true, ignoreMissingModules: true }
      }
    });
    const content = await result.bundle.getString();
    log.verbose(`${namespace}/library-preload.js: ${resources.length} resources in ${Date.now() - started} ms`);
    return content;
  }

  return function preload(req, res, next) {
    const match = req.method === "GET" && PRELOAD.exec(req.path);
    if (!match) return next();
    const namespace = match[1];
    if (!bundles.has(namespace)) bundles.set(namespace, build(namespace));
    bundles.get(namespace).then(
      content => {
        if (content === undefined) return next();
        res.type("application/javascript");
        res.end(content);
      },
      error => {
        bundles.delete(namespace);
        next(error);
      }
    );
  };
};
