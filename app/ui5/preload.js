/**
 * UI5 server middleware: serves each framework library's library-preload.js, bundled on its first request
 * and then kept in memory, so that the browser loads a Fiori elements app in a few dozen requests instead
 * of ~1,500. The UI5 server serves the npm packages' sources as they are, without these bundles.
 * Bundles are not minified; the version is pinned in ui5.yaml. Built bundles are also written to
 * node_modules/.cache/ui5-library-preload (named by library, version and bundle definition), so that a
 * new server (e.g. each run of the browser tests) does not build them again.
 */
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const PRELOAD = /^\/resources\/(.+)\/library-preload\.js$/;
const CACHE = path.join(__dirname, "..", "..", "node_modules", ".cache", "ui5-library-preload");
const BUNDLE_OPTIONS = { optimize: false, usePredefineCalls: true, ignoreMissingModules: true };

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

  // a library outside the project's dependency graph (e.g. sap.insights, which Fiori elements probes for
  // without needing it): middlewareUtil.getProject throws for it instead of answering undefined
  function libraryProject(namespace) {
    try {
      const project = middlewareUtil.getProject(namespace.replace(/\//g, "."));
      return project && project.getType() === "library" ? project : undefined;
    } catch {
      return undefined;
    }
  }

  /** The cache file of a library's bundle: its version and what the bundle is made of name it. */
  function cacheFile(namespace, project) {
    const definition = JSON.stringify([bundleDefinition(namespace), BUNDLE_OPTIONS]);
    const digest = crypto.createHash("sha256").update(definition).digest("hex").slice(0, 12);
    return path.join(CACHE, `${namespace.replace(/\//g, ".")}@${project.getVersion()}-${digest}.js`);
  }

  async function build(namespace) {
    const project = libraryProject(namespace);
    if (!project) return undefined;
    const file = cacheFile(namespace, project);
    const cached = await fs.promises.readFile(file, "utf8").catch(() => undefined);
    if (cached !== undefined) return cached;
    const started = Date.now();
    const resources = await project.getReader({ style: "runtime" }).byGlob("/**/*.{js,json,xml,properties}");
    const [result] = await moduleBundler({
      resources,
      options: {
        bundleDefinition: bundleDefinition(namespace),
        bundleOptions: BUNDLE_OPTIONS
      }
    });
    const content = await result.bundle.getString();
    log.verbose(`${namespace}/library-preload.js: ${resources.length} resources in ${Date.now() - started} ms`);
    // written under a temporary name and renamed: a reader never sees half a bundle
    const partial = `${file}.${process.pid}.tmp`;
    await fs.promises
      .mkdir(CACHE, { recursive: true })
      .then(() => fs.promises.writeFile(partial, content))
      .then(() => fs.promises.rename(partial, file))
      .catch(error => log.warn(`${namespace}/library-preload.js not cached: ${error.message}`));
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
