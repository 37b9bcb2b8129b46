/*!
 * Creating without drafts. Fiori elements V4 creates only in draft-enabled or sticky services; the
 * provisioning service's entities are neither (a create starts remote work at once). This opens a dialog
 * with the app's fields as Fiori elements building blocks (labels, value helps, checks from the service
 * annotations), POSTs the new entity when the user confirms and opens its object page.
 *
 * Served by the CAP server from app/shared (resource root "btp.provisioning.shared" in each index.html).
 */
sap.ui.define([
  "sap/m/MessageBox",
  "sap/m/MessageToast",
  "sap/ui/core/Messaging",
  "sap/ui/model/json/JSONModel",
  "btp/provisioning/shared/Texts"
], function (MessageBox, MessageToast, Messaging, JSONModel, Texts) {
  "use strict";

  // a deferred batch group: nothing is sent before the user confirms
  var GROUP = "createDialog";

  function errorsFor(context) {
    var path = context.getPath();
    return Messaging.getMessageModel()
      .getData()
      .filter(function (message) {
        var targets = message.getTargets ? message.getTargets() : [message.getTarget()];
        return (
          message.getType() === "Error" &&
          (targets.length === 0 || targets.some(function (target) { return !target || target.indexOf(path) === 0; }))
        );
      })
      .map(function (message) { return message.getMessage(); });
  }

  return {
    /**
     * Opens the create dialog.
     * @param {sap.fe.core.ExtensionAPI} api the page's extension API (`this` in a custom action handler)
     * @param {object} options what to create
     * @param {string} options.fragment fragment name: a sap.m.Dialog whose buttons call .onConfirm and .onCancel
     * @param {string} options.path collection to create in: absolute ("/ServiceInstances") or relative to options.parent
     * @param {sap.ui.model.odata.v4.Context} [options.parent] the page's context, for a relative path
     * @param {string} [options.contextPath] metadata path of the collection, for the fields' templating
     * @param {object} [options.data] initial values
     * @param {string} [options.type] text key (app/shared/i18n) of what is created, for the message toast
     *   shown once it is created
     * @param {string} [options.nameProperty] the property naming the new object in that toast ("name")
     * @param {string} [options.refreshPath] what of the page to refresh once created (object pages)
     * @param {Object<string, function(sap.ui.base.Event, sap.ui.model.odata.v4.Context)>} [options.handlers]
     *   event handlers of the fragment (".name"), given the new entity's context
     * @returns {Promise<sap.ui.model.odata.v4.Context|undefined>} the created entity, undefined if cancelled
     */
    open: function (api, options) {
      var model = api.getModel();
      var binding = model.bindList(options.path, options.parent, undefined, undefined, { $$updateGroupId: GROUP });
      var context = binding.create(options.data || {}, true);
      // a create that is cancelled (the dialog closed without a successful POST) rejects this promise with
      // "Request canceled"; that is no error for the user
      context.created().catch(function () {
        /* cancelled or failed: the dialog has shown why */
      });
      var dialog;

      return new Promise(function (resolve) {
        var controller = {
          onConfirm: function () {
            dialog.setBusy(true);
            model.submitBatch(GROUP).then(function () {
              dialog.setBusy(false);
              if (context.isTransient()) {
                // the POST failed; the context keeps the input and the next submit sends it again
                var errors = errorsFor(context);
                if (errors.length) MessageBox.error(errors.join("\n"));
                return;
              }
              dialog.close();
              if (options.type) {
                Texts.load().then(function (texts) {
                  var name = context.getProperty(options.nameProperty || "name") || "";
                  MessageToast.show(texts.getText("created", [texts.getText(options.type), name]), { duration: 5000 });
                });
              }
              resolve(context);
            });
          },
          onCancel: function () {
            dialog.close();
          }
        };
        // the fragment's own handlers, called with the event and the new entity's context
        Object.keys(options.handlers || {}).forEach(function (name) {
          controller[name] = function (event) {
            return options.handlers[name](event, context);
          };
        });

        api
          .loadFragment({
            id: "createDialog",
            name: options.fragment,
            contextPath: options.contextPath || options.path,
            initialBindingContext: context,
            controller: controller
          })
          .then(function (fragment) {
            dialog = fragment;
            dialog.setEscapeHandler(function (escape) {
              escape.resolve();
            });
            dialog.attachAfterClose(function () {
              if (context.isTransient()) {
                context.delete().catch(function () {
                  /* a transient context is discarded locally; nothing to report */
                });
                resolve(undefined);
              }
              api.removeDependent(dialog);
              dialog.destroy();
            });
            // bound to the new entity before it joins the page, so no field ever resolves against the page
            dialog.setBindingContext(context);
            // the fields follow the page's "ui" model; inside the dialog the page is in create mode
            var ui = api.getModel("ui");
            dialog.setModel(new JSONModel(Object.assign({}, ui && ui.getData(), { isEditable: true, createMode: true })), "ui");
            api.addDependent(dialog);
            dialog.open();
          });
      }).then(function (created) {
        if (!created) return created;
        // the list the object was created from shows it when the user comes back (a list report refreshes
        // its table; an object page its own data and tables)
        var refreshed = api.refresh ? api.refresh(options.refreshPath) : undefined;
        return Promise.resolve(refreshed)
          .catch(function () {
            /* the list refreshes again when shown */
          })
          .then(function () {
            api.routing.navigate(created);
            return created;
          });
      });
    }
  };
});
