/*!
 * Controller extension of every list report and object page of the apps (registered in each manifest under
 * sap.ui5/extends/extensions):
 * - a list report loads its table again whenever the user comes back to it, so that objects created,
 *   deleted or changed on an object page show without pressing Go;
 * - every action and delete that succeeded answers with a message toast; Verify, Sweep and Sync Catalog
 *   say what they found;
 * - an object page with a "labels" section shows the instance's labels (a JSON object of label -> values)
 *   as a table (named model "labels").
 */
sap.ui.define(
  ["sap/m/MessageToast", "sap/ui/core/mvc/ControllerExtension", "sap/ui/model/Filter", "sap/ui/model/json/JSONModel", "btp/provisioning/shared/Texts"],
  function (MessageToast, ControllerExtension, Filter, JSONModel, Texts) {
    "use strict";

    /** The route of the list report: the one without a key in its pattern. */
    function listRouteName(component) {
      var routes = component.getManifestEntry("/sap.ui5/routing/routes") || [];
      var route = routes.filter(function (r) {
        return r.pattern === ":?query:" || r.pattern === "";
      })[0];
      return route && route.name;
    }

    /** Label rows from the JSON text of ServiceInstances.labels ({ key: [values] }). */
    function labelRows(json) {
      var labels;
      try {
        labels = json ? JSON.parse(json) : {};
      } catch (e) {
        return [{ key: "", values: json }];
      }
      return Object.keys(labels || {})
        .sort()
        .map(function (key) {
          var values = labels[key];
          return { key: key, values: Array.isArray(values) ? values.join(", ") : String(values) };
        });
    }

    var FEEDBACK = {
      verify: function (context) {
        return context.requestObject().then(function (key) {
          if (!key || !key.verification_code) return undefined;
          var ok = String(key.verification_code).toLowerCase() === "ok";
          return Texts.get(ok ? "verified" : "verifyFailed", [
            (key.verification && key.verification.name) || key.verification_code,
            key.verifyStatus,
            ok ? key.verifyLatency : key.verifyMessage || ""
          ]);
        });
      },
      sweep: function (context) {
        var findings = context
          .getModel()
          .bindList("findings", context, undefined, [new Filter("status", "EQ", "open")], { $select: "category,status" });
        return findings.requestContexts(0, 10000).then(function (rows) {
          var count = { orphan: 0, vanished: 0, stuck: 0, unmanaged: 0 };
          rows.forEach(function (row) {
            var category = row.getProperty("category");
            count[category] = (count[category] || 0) + 1;
          });
          findings.destroy();
          return Texts.get("swept", [rows.length, count.orphan, count.vanished, count.stuck, count.unmanaged]);
        });
      },
      syncCatalog: function (context) {
        var plans = context.getModel().bindList("plans", context, undefined, undefined, { $select: "entitled" });
        return plans.requestContexts(0, 10000).then(function (rows) {
          var entitled = rows.filter(function (row) {
            return row.getProperty("entitled") === true;
          }).length;
          plans.destroy();
          return Texts.get("synced", [rows.length, entitled]);
        });
      }
    };

    return ControllerExtension.extend("btp.provisioning.shared.Page", {
      override: {
        onInit: function () {
          var view = this.base.getView();
          var viewData = view.getViewData() || {};
          if (viewData.converterType === "ListReport") this._refreshOnReturn();
          if (viewData.converterType === "ObjectPage") view.setModel(new JSONModel({ rows: [] }), "labels");
        },

        routing: {
          onAfterBinding: function (context) {
            this._showLabels(context);
          }
        },

        editFlow: {
          onAfterActionExecution: function (actionName) {
            this._feedback(String(actionName || ""));
          },
          // names are read before the delete: afterwards the contexts are gone
          onBeforeDelete: function (parameters) {
            this._deleting = ((parameters && parameters.contexts) || []).map(function (context) {
              return context.getProperty("name") || context.getProperty("displayName") || "";
            });
          },
          onAfterDelete: function () {
            var names = this._deleting || [];
            this._deleting = undefined;
            var text = names.length === 1 ? Texts.get("deleted", [names[0]]) : Texts.get("deletedMany", [names.length]);
            text.then(function (message) {
              MessageToast.show(message, { duration: 5000 });
            });
          }
        }
      },

      _refreshOnReturn: function () {
        var api = this.base.getExtensionAPI();
        var component = this.base.getAppComponent();
        var name = listRouteName(component);
        var route = name && component.getRouter().getRoute(name);
        if (!route) return;
        var shown = false;
        route.attachPatternMatched(function () {
          // the first match is the page's initial load (initialLoad: Enabled)
          if (shown) {
            api.refresh().catch(function () {
              /* the list report shows the request's error itself */
            });
          }
          shown = true;
        });
      },

      _showLabels: function (context) {
        var view = this.base.getView();
        var model = view.getModel("labels");
        if (this._labels) {
          this._labels.destroy();
          this._labels = undefined;
        }
        var sections = ((view.getViewData() || {}).content || {}).body || {};
        if (!model || !context || !(sections.sections || {}).labels) return;
        var binding = context.getModel().bindProperty("labels", context);
        var update = function () {
          model.setData({ rows: labelRows(binding.getValue()) });
        };
        binding.attachChange(update);
        binding.initialize();
        this._labels = binding;
        update();
      },

      _feedback: function (actionName) {
        var name = actionName.split("(")[0].split(".").pop();
        var context = this.base.getView().getBindingContext();
        var onObjectPage = (this.base.getView().getViewData() || {}).converterType === "ObjectPage";
        var details = onObjectPage && context && FEEDBACK[name] ? FEEDBACK[name](context) : Promise.resolve(undefined);
        details
          .catch(function () {
            return undefined;
          })
          .then(function (text) {
            return (
              text ||
              Texts.get("action." + name).then(function (label) {
                return Texts.get("actionDone", [label && label !== "action." + name ? label : name]);
              })
            );
          })
          .then(function (text) {
            MessageToast.show(text, { duration: 5000 });
          });
      }
    });
  }
);
