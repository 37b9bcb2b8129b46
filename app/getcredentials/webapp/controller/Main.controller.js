/*!
 * The guided Get Credentials flow: template -> subaccount and the template's inputs (fields generated from
 * its inputSchema) -> dry run of `provision` as a summary -> Provision -> the flow (Provisionings and its
 * steps, polled) -> the consumer view with Reveal and Download (btp/provisioning/shared/Credentials).
 * Reads go to the service as plain OData GETs; `provision` is POSTed with the application router's CSRF
 * token. Secrets never enter this page's models: Reveal and Download read them live, on request.
 */
sap.ui.define(
  [
    "sap/base/strings/formatMessage",
    "sap/m/CheckBox",
    "sap/m/Input",
    "sap/m/Label",
    "sap/m/MultiComboBox",
    "sap/m/MultiInput",
    "sap/m/Select",
    "sap/m/Token",
    "sap/ui/core/BusyIndicator",
    "sap/ui/core/Item",
    "sap/ui/core/ListItem",
    "sap/ui/core/mvc/Controller",
    "sap/ui/model/json/JSONModel",
    "btp/provisioning/shared/Credentials",
    "btp/provisioning/shared/Logout"
  ],
  function (formatMessage, CheckBox, Input, Label, MultiComboBox, MultiInput, Select, Token, BusyIndicator, Item, ListItem, Controller, JSONModel, Credentials, Logout) {
    "use strict";

    /** the flow is read every second for its first half minute, then every 5 seconds */
    var POLL_MS = 1000;
    var POLL_SLOW_MS = 5000;
    var POLL_FAST_FOR_MS = 30000;
    /** the apps a user may come from (?from=...), for the back button */
    var ORIGINS = ["serviceinstances", "servicekeys"];
    var STATES = {
      done: "Success",
      completed: "Success",
      reused: "Success",
      planned: "Success",
      unverified: "Warning",
      waiting: "Warning",
      failed: "Error",
      rejected: "Error",
      running: "Information",
      pending: "None",
      skipped: "None"
    };

    function quote(value) {
      return "'" + String(value).replace(/'/g, "''") + "'";
    }

    /** The OData error of a failed answer as { code, message, target }. */
    function errorOf(response) {
      return response.json().then(
        function (body) {
          var error = (body && body.error) || {};
          return { code: error.code, message: error.message || response.statusText, target: error.target };
        },
        function () {
          return { message: response.status + " " + response.statusText };
        }
      );
    }

    /** Names are at most 32 characters (srv/lib/naming.ts); the default key name adds "-key" to the instance's. */
    var MAX_NAME = 32;
    var KEY_SUFFIX = "-key";

    /** A new instance's name: the service's, shortened, and 4 random characters. */
    function defaultInstanceName(template) {
      var suffix = "-" + Math.random().toString(36).slice(2, 6);
      var base = String(template.offeringName || "instance").slice(0, MAX_NAME - KEY_SUFFIX.length - suffix.length).replace(/[^A-Za-z0-9]+$/, "");
      return base + suffix;
    }

    /** A usable client certificate: within its validity and fit for TLS client authentication. */
    function usable(certificate, now) {
      return certificate.clientAuth === true && Date.parse(certificate.notAfter) > now && (!certificate.notBefore || Date.parse(certificate.notBefore) <= now);
    }

    return Controller.extend("btp.provisioning.getcredentials.controller.Main", {
      onInit: function () {
        this.model = new JSONModel(this.initialState());
        this.getView().setModel(this.model, "view");
        /** the generated input fields: name -> { control, value(), controls: [label, control] } */
        this.inputs = {};
        this.serviceUrl = new URL(this.getOwnerComponent().getManifestEntry("/sap.app/dataSources/mainService/uri"), document.baseURI).href;
        this.load();
      },

      onExit: function () {
        this.stopPolling();
      },

      initialState: function () {
        return {
          loaded: false,
          loadError: "",
          templates: [],
          subaccounts: [],
          certificates: [],
          template: null,
          subaccount: "",
          instanceName: "",
          keyName: "",
          keyNameDefault: "",
          plan: null,
          flow: null,
          consumer: null
        };
      },

      // ---- service access ---------------------------------------------------------------------------

      get: function (path) {
        return fetch(this.serviceUrl + path, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
          if (response.ok) return response.json();
          return errorOf(response).then(function (error) {
            throw new Error(error.message);
          });
        });
      },

      /** The application router's CSRF token (none locally, where there is no router). */
      csrfToken: function (renew) {
        if (!this.token || renew) {
          this.token = fetch(this.serviceUrl, { credentials: "same-origin", headers: { "X-CSRF-Token": "Fetch", Accept: "application/json" } }).then(
            function (response) {
              return response.headers.get("X-CSRF-Token") || "";
            },
            function () {
              return "";
            }
          );
        }
        return this.token;
      },

      /** POSTs `provision`; resolves with { ok, result } or { ok: false, error }. */
      provision: function (body, retried) {
        var that = this;
        return this.csrfToken(retried).then(function (token) {
          var headers = { Accept: "application/json", "Content-Type": "application/json" };
          if (token) headers["X-CSRF-Token"] = token;
          return fetch(that.serviceUrl + "provision", { method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(body) }).then(
            function (response) {
              if (response.status === 403 && response.headers.get("X-CSRF-Token") === "Required" && !retried) return that.provision(body, true);
              if (response.ok) {
                return response.json().then(function (result) {
                  return { ok: true, result: result };
                });
              }
              return errorOf(response).then(function (error) {
                return { ok: false, error: error };
              });
            }
          );
        });
      },

      load: function () {
        var that = this;
        var model = this.model;
        Promise.all([
          this.get("Templates?$select=ID,name,description,offeringName,planName,inputSchema,sharedInstance,keyName,credentialType,consumerType&$orderby=name"),
          this.get("Subaccounts?$select=ID,displayName,subaccountId&$orderby=displayName"),
          this.get("Certificates?$select=ID,name,notBefore,notAfter,clientAuth&$orderby=notAfter desc")
        ])
          .then(function (answers) {
            model.setProperty("/templates", answers[0].value);
            model.setProperty(
              "/subaccounts",
              answers[1].value.map(function (s) {
                return Object.assign(s, { entitled: false });
              })
            );
            var now = Date.now();
            model.setProperty(
              "/certificates",
              answers[2].value.filter(function (c) {
                return usable(c, now);
              })
            );
          })
          .catch(function (error) {
            model.setProperty("/loadError", that.text("loadFailed", [that.text("stepTemplate"), error.message]));
          })
          .finally(function () {
            model.setProperty("/loaded", true);
          });
      },

      // ---- step 1: template -------------------------------------------------------------------------

      onTemplate: function (event) {
        var item = event.getParameter("listItem");
        var template = item && item.getBindingContext("view").getObject();
        if (!template) return;
        this.reset();
        this.model.setProperty("/template", template);
        this.model.setProperty("/instanceName", defaultInstanceName(template));
        this.model.setProperty("/keyName", "");
        this.updateKeyNameDefault();
        this.buildInputs(template);
        this.loadEntitlements(template);
        this.scrollTo("inputStep");
      },

      /** Marks the subaccounts where the template's plan is entitled and picks the first of them. */
      loadEntitlements: function (template) {
        var model = this.model;
        var filter = "name eq " + quote(template.planName) + " and offering/name eq " + quote(template.offeringName);
        this.get("ServicePlans?$filter=" + encodeURIComponent(filter) + "&$select=ID,subaccount_ID,entitled")
          .then(function (answer) {
            var entitled = {};
            answer.value.forEach(function (plan) {
              if (plan.entitled) entitled[plan.subaccount_ID] = true;
            });
            var subaccounts = model.getProperty("/subaccounts").map(function (s) {
              return Object.assign({}, s, { entitled: !!entitled[s.ID] });
            });
            model.setProperty("/subaccounts", subaccounts);
            var first = subaccounts.filter(function (s) {
              return s.entitled;
            })[0] || subaccounts[0];
            if (model.getProperty("/template") === template) model.setProperty("/subaccount", first ? first.ID : "");
          })
          .catch(function () {
            var first = model.getProperty("/subaccounts")[0];
            model.setProperty("/subaccount", first ? first.ID : "");
          });
      },

      // ---- step 2: the template's inputs ------------------------------------------------------------

      /** Fields for the properties of the template's inputSchema, after the fixed ones of the form. */
      buildInputs: function (template) {
        var form = this.byId("form");
        var that = this;
        Object.keys(this.inputs).forEach(function (name) {
          that.inputs[name].controls.forEach(function (control) {
            form.removeContent(control);
            control.destroy();
          });
        });
        this.inputs = {};
        var schema;
        try {
          schema = template.inputSchema ? JSON.parse(template.inputSchema) : {};
        } catch (e) {
          schema = {};
        }
        var required = schema.required || [];
        Object.keys(schema.properties || {}).forEach(function (name) {
          var property = schema.properties[name];
          var input = that.createInput(name, property, template);
          var label = new Label({ text: that.labelOf(name), required: required.indexOf(name) >= 0, labelFor: input.control, tooltip: property.description || "" });
          input.controls = [label].concat(input.controls || [input.control]);
          input.controls.forEach(function (control) {
            form.addContent(control);
          });
          that.inputs[name] = input;
        });
      },

      labelOf: function (name) {
        var bundle = this.getView().getModel("i18n").getResourceBundle();
        return bundle.hasText("input." + name) ? bundle.getText("input." + name) : name.charAt(0).toUpperCase() + name.slice(1);
      },

      /**
       * One field for a property of the inputSchema: the certificate as a picker of the usable certificates,
       * an array as a multi-select (its items' enum to choose from, else tokens typed with suggestions), a
       * string enum as a select, a boolean as a check box, anything else as an input.
       * @returns {{ control: sap.ui.core.Control, value: function(): any, controls?: sap.ui.core.Control[] }} the field
       */
      createInput: function (name, property, template) {
        var id = this.createId("input-" + name);
        var editable = "{= !${view>/flow} }";
        var changed = this.onInputChange.bind(this);
        var items = property.items || {};
        if (name === "certificate") {
          var picker = new Select(id, {
            width: "100%",
            forceSelection: true,
            enabled: editable,
            change: changed,
            items: {
              path: "view>/certificates",
              template: new Item({ key: "{view>ID}", text: { parts: ["view>name", "view>notAfter"], formatter: this.formatCertificate.bind(this) } })
            }
          });
          var none = new Label({ text: this.text("noCertificates"), visible: "{= ${view>/certificates/length} === 0 }", wrapping: true });
          return {
            control: picker,
            controls: [picker, none],
            value: function () {
              return picker.getSelectedKey() || undefined;
            }
          };
        }
        if (property.type === "array" && Array.isArray(items.enum)) {
          var choice = new MultiComboBox(id, {
            width: "100%",
            editable: editable,
            selectionChange: changed,
            items: items.enum.map(function (value) {
              return new Item({ key: value, text: value });
            })
          });
          return {
            control: choice,
            value: function () {
              return choice.getSelectedKeys();
            }
          };
        }
        if (property.type === "array") {
          var tokens = new MultiInput(id, {
            width: "100%",
            showValueHelp: false,
            showSuggestion: true,
            editable: editable,
            placeholder: this.text("tokensHint"),
            tokenUpdate: changed,
            liveChange: changed
          });
          tokens.addValidator(function (args) {
            var text = (args.text || "").trim();
            return text ? new Token({ key: text, text: text }) : undefined;
          });
          this.suggestionsFor(name, items, template).then(function (values) {
            values.forEach(function (value) {
              tokens.addSuggestionItem(new Item({ key: value, text: value }));
            });
          });
          return {
            control: tokens,
            value: function () {
              var values = tokens.getTokens().map(function (token) {
                return token.getKey();
              });
              // a value typed but not yet taken as a token counts too
              var pending = tokens.getValue().trim();
              if (pending && values.indexOf(pending) < 0) values.push(pending);
              return values;
            }
          };
        }
        if (property.type === "boolean") {
          var box = new CheckBox(id, { editable: editable, select: changed, text: this.text("yes") });
          return {
            control: box,
            value: function () {
              return box.getSelected();
            }
          };
        }
        if (Array.isArray(property.enum)) {
          var select = new Select(id, {
            width: "100%",
            enabled: editable,
            change: changed,
            items: property.enum.map(function (value) {
              return new ListItem({ key: value, text: value });
            })
          });
          return {
            control: select,
            value: function () {
              return select.getSelectedKey() || undefined;
            }
          };
        }
        var field = new Input(id, {
          width: "100%",
          editable: editable,
          liveChange: changed,
          maxLength: property.maxLength || 0,
          placeholder: property.description || "",
          type: property.type === "integer" || property.type === "number" ? "Number" : "Text"
        });
        return {
          control: field,
          value: function () {
            var value = field.getValue().trim();
            if (!value) return undefined;
            return property.type === "integer" || property.type === "number" ? Number(value) : value;
          }
        };
      },

      /** Values to suggest for an array input: the schema's examples, then what earlier flows of the template used. */
      suggestionsFor: function (name, items, template) {
        var values = (Array.isArray(items.examples) ? items.examples : []).slice();
        var filter = "template_ID eq " + template.ID;
        return this.get("Provisionings?$filter=" + encodeURIComponent(filter) + "&$select=ID,inputs&$orderby=createdAt desc&$top=50")
          .then(function (answer) {
            answer.value.forEach(function (flow) {
              try {
                var used = JSON.parse(flow.inputs || "{}")[name];
                (Array.isArray(used) ? used : []).forEach(function (value) {
                  if (typeof value === "string" && values.indexOf(value) < 0) values.push(value);
                });
              } catch (e) {
                /* inputs of another shape: nothing to suggest */
              }
            });
            return values;
          })
          .catch(function () {
            return values;
          });
      },

      updateKeyNameDefault: function () {
        var template = this.model.getProperty("/template");
        var instanceName = this.model.getProperty("/instanceName") || "";
        this.model.setProperty("/keyNameDefault", (template && template.keyName) || (instanceName ? instanceName.slice(0, MAX_NAME - KEY_SUFFIX.length) + KEY_SUFFIX : ""));
      },

      /** Any change after a check: the summary is stale, the field no longer in error. */
      onInputChange: function (event) {
        var source = event && event.getSource();
        if (source && source.setValueState) source.setValueState("None");
        if (source && source.getId() === this.byId("instanceName").getId()) this.updateKeyNameDefault();
        if (!this.model.getProperty("/flow")) this.model.setProperty("/plan", null);
      },

      /** The body of `provision` from the form. */
      request: function (dryRun) {
        var model = this.model;
        var body = {
          template: model.getProperty("/template/ID"),
          subaccount: model.getProperty("/subaccount") || null,
          instanceName: (model.getProperty("/instanceName") || "").trim() || null,
          keyName: (model.getProperty("/keyName") || "").trim() || model.getProperty("/keyNameDefault") || null,
          dryRun: dryRun
        };
        var that = this;
        Object.keys(this.inputs).forEach(function (name) {
          var value = that.inputs[name].value();
          // an empty list is left out: the service then names the input as missing where it is required
          if (value !== undefined && !(Array.isArray(value) && value.length === 0)) body[name] = value;
        });
        return body;
      },

      /** Marks the fields the service's problems concern (their target), and clears the others. */
      showProblems: function (problems) {
        var fields = {
          subaccount: this.byId("subaccount"),
          instanceName: this.byId("instanceName"),
          keyName: this.byId("keyName")
        };
        var that = this;
        Object.keys(this.inputs).forEach(function (name) {
          fields[name] = that.inputs[name].control;
        });
        Object.keys(fields).forEach(function (name) {
          if (fields[name].setValueState) fields[name].setValueState("None");
        });
        (problems || []).forEach(function (problem) {
          var target = String(problem.target || "").split(/[./]/)[0];
          // an entitlement concerns the subaccount chosen for the template
          if (problem.code === "PLAN_NOT_ENTITLED" || target === "template") target = "subaccount";
          var field = fields[target];
          if (field && field.setValueState) {
            field.setValueState("Error");
            field.setValueStateText(problem.message);
          }
        });
      },

      // ---- step 3: dry run --------------------------------------------------------------------------

      onCheck: function () {
        var that = this;
        var model = this.model;
        BusyIndicator.show(0);
        return this.provision(this.request(true))
          .then(function (answer) {
            var plan = answer.ok
              ? { status: answer.result.status, steps: that.planSteps(answer.result.steps), problems: answer.result.problems || [] }
              : { status: "rejected", steps: [], problems: [answer.error] };
            model.setProperty("/plan", plan);
            that.showProblems(plan.problems);
            that.scrollTo("summaryStep");
          })
          .finally(function () {
            BusyIndicator.hide();
          });
      },

      /** The steps of a plan with their parameters as compact JSON text. */
      planSteps: function (steps) {
        return (steps || []).map(function (s) {
          var parameters = s.parameters;
          if (parameters && typeof parameters !== "string") parameters = JSON.stringify(parameters);
          return Object.assign({}, s, { parameters: parameters || "" });
        });
      },

      // ---- step 4: provision and follow the flow ----------------------------------------------------

      onProvision: function () {
        var that = this;
        var model = this.model;
        BusyIndicator.show(0);
        return this.provision(this.request(false))
          .then(function (answer) {
            if (!answer.ok || !answer.result.ID) {
              var problems = answer.ok ? answer.result.problems || [] : [answer.error];
              model.setProperty("/plan", { status: "rejected", steps: model.getProperty("/plan/steps") || [], problems: problems });
              that.showProblems(problems);
              return;
            }
            model.setProperty("/flow", { ID: answer.result.ID, status: answer.result.status, lastError: "", steps: that.planSteps(answer.result.steps) });
            that.scrollTo("progressStep");
            that.poll(answer.result.ID);
          })
          .finally(function () {
            BusyIndicator.hide();
          });
      },

      poll: function (ID, since) {
        var that = this;
        var model = this.model;
        var started = since || Date.now();
        var next = function (factor) {
          var delay = Date.now() - started < POLL_FAST_FOR_MS ? POLL_MS : POLL_SLOW_MS;
          that.timer = setTimeout(that.poll.bind(that, ID, started), delay * factor);
        };
        this.stopPolling();
        var path =
          "Provisionings(" + ID + ")?$select=ID,status,lastError,consumerView,serviceKey_ID,instance_ID" +
          "&$expand=steps($select=ID,seq,step,action,status,target,detail;$orderby=seq)";
        this.get(path)
          .then(
            function (flow) {
              if (model.getProperty("/flow/ID") !== ID) return;
              model.setProperty("/flow", { ID: ID, status: flow.status, lastError: flow.lastError || "", steps: flow.steps, serviceKey: flow.serviceKey_ID });
              if (flow.status === "running") next(1);
              else if (flow.consumerView) that.showConsumerView(flow);
            },
            function () {
              if (model.getProperty("/flow/ID") === ID) next(3);
            }
          );
      },

      stopPolling: function () {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
      },

      // ---- step 5: the consumer view ----------------------------------------------------------------

      showConsumerView: function (flow) {
        var view;
        try {
          view = JSON.parse(flow.consumerView);
        } catch (e) {
          return;
        }
        var fields = view.fields || {};
        var keyId = flow.serviceKey_ID;
        // the key as an OData V4 context, for the shared reveal and download of credentials
        var binding = this.getView().getModel().bindContext("/ServiceKeys(" + keyId + ")", undefined, { $select: "ID,name,state_code" });
        this.keyContext = binding.getBoundContext();
        var that = this;
        this.keyContext.requestObject().then(function () {
          that.model.setProperty("/consumer", {
            keyId: keyId,
            keyUrl: "../servicekeys/index.html#/ServiceKeys(" + keyId + ")",
            rows: Object.keys(fields).map(function (name) {
              return { name: name, value: String(fields[name]) };
            }),
            tokenUrl: view.tokenUrl || "",
            secrets: (view.secrets || []).join(", ")
          });
          that.scrollTo("credentialsStep");
        });
      },

      onReveal: function () {
        return Credentials.reveal.call(this.getView(), this.keyContext);
      },

      onDownload: function () {
        return Credentials.download(this.keyContext);
      },

      onStartOver: function () {
        this.reset();
        this.model.setProperty("/template", null);
        this.byId("templates").removeSelections(true);
        this.scrollTo("templateStep");
      },

      /** Forgets the plan, the flow and the consumer view. */
      reset: function () {
        this.stopPolling();
        this.keyContext = undefined;
        this.model.setProperty("/plan", null);
        this.model.setProperty("/flow", null);
        this.model.setProperty("/consumer", null);
        this.showProblems([]);
      },

      onLogout: function () {
        return Logout.press();
      },

      onBack: function () {
        var from = new URLSearchParams(window.location.search).get("from");
        window.location.href = ORIGINS.indexOf(from) >= 0 ? "../" + from + "/index.html" : "../index.html";
      },

      // ---- helpers and formatters -------------------------------------------------------------------

      /**
       * Brings a step into view without animation, as soon as it is rendered: a panel that turns visible
       * renders again, one already shown is scrolled to at once.
       */
      scrollTo: function (id) {
        var page = this.byId("page");
        var panel = this.byId(id);
        var delegate = {
          onAfterRendering: function () {
            panel.removeEventDelegate(delegate);
            page.scrollToElement(panel, 0);
          }
        };
        panel.addEventDelegate(delegate);
        setTimeout(function () {
          panel.removeEventDelegate(delegate);
        }, 1000);
        if (panel.getVisible() && panel.getDomRef()) page.scrollToElement(panel, 0);
      },

      text: function (key, args) {
        return this.getView().getModel("i18n").getResourceBundle().getText(key, args);
      },

      formatMessage: function (pattern) {
        return pattern ? formatMessage(pattern, Array.prototype.slice.call(arguments, 1)) : "";
      },

      /** A code's text from the i18n bundle ("step.key", "status.done"), else the code. */
      formatCode: function (code) {
        return this.codeText("step", code);
      },

      formatActionCode: function (code) {
        return this.codeText("action", code);
      },

      formatStatus: function (code) {
        return this.codeText("status", code);
      },

      codeText: function (kind, code) {
        if (!code) return "";
        var bundle = this.getView().getModel("i18n").getResourceBundle();
        return bundle.hasText(kind + "." + code) ? bundle.getText(kind + "." + code) : code;
      },

      formatState: function (code) {
        return STATES[code] || "None";
      },

      formatCertificate: function (name, notAfter) {
        var until = notAfter ? new Date(notAfter).toISOString().slice(0, 10) : "";
        return this.text("certificateOption", [name, until]);
      }
    });
  }
);
