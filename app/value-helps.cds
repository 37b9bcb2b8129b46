/*
 * Value helps and texts shared by every Fiori app: references show names instead of IDs,
 * code lists show as drop-downs.
 */
using ProvisioningService as service from '../srv/provisioning-service';

// ---- code lists: drop-downs showing the name ---------------------------------------------------------

annotate service.ServiceInstances with {
  state @Common: {
    Text                    : state.name,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true
  };
}

annotate service.ServiceKeys with {
  state        @Common: {
    Text                    : state.name,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true
  };
  verification @Common: {
    Text                    : verification.name,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true
  };
}

annotate service.ServiceKeys with {
  expiry @Common: {
    Text                    : expiry.name,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true
  };
}

annotate service.Certificates with {
  ID     @Common: {
    Text           : name,
    TextArrangement: #TextOnly
  };
  expiry @Common: {
    Text                    : expiry.name,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true
  };
}

annotate service.Operations with {
  state @Common: {
    Text                    : state.name,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true
  };
}

// ---- subaccounts: few rows, a drop-down of display names ---------------------------------------------

annotate service.Subaccounts with {
  ID @Common: {
    Text           : displayName,
    TextArrangement: #TextOnly
  };
}

annotate service.ServiceInstances with {
  subaccount @Common: {
    Text                    : subaccount.displayName,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true,
    ValueList               : {
      CollectionPath: 'Subaccounts',
      Parameters    : [
        {
          $Type            : 'Common.ValueListParameterInOut',
          LocalDataProperty: subaccount_ID,
          ValueListProperty: 'ID'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'region'
        }
      ]
    }
  };
}

// ---- catalog: offerings and plans of the chosen subaccount -------------------------------------------

annotate service.ServiceOfferings with {
  ID         @Common: {
    Text           : title,
    TextArrangement: #TextOnly
  };
  title       @title: '{i18n>Offering}';
  displayName @title: '{i18n>Offering}';
  subaccount @Common: {
    Text           : subaccount.displayName,
    TextArrangement: #TextOnly
  };
}

// (texts of plans are own properties, see ServicePlans in srv/provisioning-service.cds: the check of a typed
// plan selects no navigation)
annotate service.ServicePlans with {
  ID              @Common: {
    Text           : name,
    TextArrangement: #TextOnly
  };
  offering        @Common: {
    Text           : offeringTitle,
    TextArrangement: #TextOnly
  };
  offeringName    @title : '{i18n>Offering}';
  offeringTitle   @title : '{i18n>Offering}';
  entitlementName @title : '{i18n>Entitled}';
}

annotate service.ServiceInstances with {
  offering @Common: {
    Text           : offering.title,
    TextArrangement: #TextOnly,
    ValueList      : {
      CollectionPath: 'ServiceOfferings',
      Parameters    : [
        {
          $Type            : 'Common.ValueListParameterInOut',
          LocalDataProperty: offering_ID,
          ValueListProperty: 'ID'
        },
        {
          $Type            : 'Common.ValueListParameterIn',
          LocalDataProperty: subaccount_ID,
          ValueListProperty: 'subaccount_ID'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'description'
        }
      ]
    }
  };
  // every plan the subaccount's catalog knows; those Service Manager no longer lists are marked not entitled
  // (choosing one gets the service's PLAN_NOT_ENTITLED on the field)
  plan     @Common: {
    Text           : plan.name,
    TextArrangement: #TextOnly,
    ValueList      : {
      CollectionPath: 'ServicePlans',
      Parameters    : [
        {
          $Type            : 'Common.ValueListParameterInOut',
          LocalDataProperty: plan_ID,
          ValueListProperty: 'ID'
        },
        {
          $Type            : 'Common.ValueListParameterIn',
          LocalDataProperty: subaccount_ID,
          ValueListProperty: 'subaccount_ID'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'offering_ID'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'description'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'entitled'
        }
      ]
    }
  };
  template @Common: {
    Text           : template.name,
    TextArrangement: #TextOnly,
    ValueList      : {
      CollectionPath: 'Templates',
      Parameters    : [
        {
          $Type            : 'Common.ValueListParameterInOut',
          LocalDataProperty: template_ID,
          ValueListProperty: 'ID'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'offeringName'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'planName'
        }
      ]
    }
  };
}

annotate service.Templates with {
  ID @Common: {
    Text           : name,
    TextArrangement: #TextOnly
  };
}

// ---- keys: pick the instance by name -----------------------------------------------------------------

annotate service.ServiceInstances with {
  ID @Common: {
    Text           : name,
    TextArrangement: #TextOnly
  };
}

annotate service.ServiceKeys with {
  ID          @Common: {
    Text           : name,
    TextArrangement: #TextOnly
  };
  instance    @Common: {
    Text           : instance.name,
    TextArrangement: #TextOnly,
    ValueList      : {
      CollectionPath: 'ServiceInstances',
      Parameters    : [
        {
          $Type            : 'Common.ValueListParameterInOut',
          LocalDataProperty: instance_ID,
          ValueListProperty: 'ID'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'subaccount_ID'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'plan_ID'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'state_code'
        }
      ]
    }
  };
  certificate @Common: {
    Text           : certificate.name,
    TextArrangement: #TextOnly,
    ValueList      : {
      CollectionPath: 'Certificates',
      Parameters    : [
        {
          $Type            : 'Common.ValueListParameterInOut',
          LocalDataProperty: certificate_ID,
          ValueListProperty: 'ID'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'subject'
        },
        {
          $Type            : 'Common.ValueListParameterDisplayOnly',
          ValueListProperty: 'notAfter'
        }
      ]
    }
  };
  rotatedFrom @Common: {
    Text           : rotatedFrom.name,
    TextArrangement: #TextOnly
  };
  rotatedTo   @Common: {
    Text           : rotatedTo.name,
    TextArrangement: #TextOnly
  };
}

// ---- operations: which object a step worked on ------------------------------------------------------

annotate service.Operations with {
  subaccount @Common: {
    Text           : subaccount.displayName,
    TextArrangement: #TextOnly
  };
  instance   @Common: {
    Text           : instance.name,
    TextArrangement: #TextOnly
  };
  serviceKey @Common: {
    Text           : serviceKey.name,
    TextArrangement: #TextOnly
  };
}

// ---- code lists with texts: the columns keep their codes, the apps show the names ------------------------

annotate service.ServiceKeys with {
  credentialType @Common: {
    Text                    : credentialTypeText.name,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true,
    ValueList               : {
      CollectionPath: 'CredentialTypes',
      Parameters    : [{
        $Type            : 'Common.ValueListParameterInOut',
        LocalDataProperty: credentialType,
        ValueListProperty: 'code'
      }]
    }
  };
}

annotate service.ServiceInstances with {
  environment @Common: {
    Text                    : environmentText.name,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true,
    ValueList               : {
      CollectionPath: 'Environments',
      Parameters    : [{
        $Type            : 'Common.ValueListParameterInOut',
        LocalDataProperty: environment,
        ValueListProperty: 'code'
      }]
    }
  };
}

annotate service.Operations with {
  type       @Common: {
    Text           : typeText.name,
    TextArrangement: #TextOnly
  };
  targetType @Common: {
    Text           : targetTypeText.name,
    TextArrangement: #TextOnly
  };
}

annotate service.Subaccounts with {
  health @Common: {
    Text                    : healthState.name,
    TextArrangement         : #TextOnly,
    ValueListWithFixedValues: true,
    ValueList               : {
      CollectionPath: 'HealthStates',
      Parameters    : [{
        $Type            : 'Common.ValueListParameterInOut',
        LocalDataProperty: health,
        ValueListProperty: 'code'
      }]
    }
  };
}

annotate service.ServicePlans with {
  entitled @Common: {
    Text           : entitlementName,
    TextArrangement: #TextOnly
  };
}

annotate service.CredentialTypes with {
  code @Common: {
    Text           : name,
    TextArrangement: #TextOnly
  };
}

annotate service.Environments with {
  code @Common: {
    Text           : name,
    TextArrangement: #TextOnly
  };
}

annotate service.HealthStates with {
  code @Common: {
    Text           : name,
    TextArrangement: #TextOnly
  };
}

// value-help search in the catalog: service and plan names only (not descriptions or subaccount names)
annotate service.ServicePlans with @cds.search: {
  name,
  offering.name,
  offering.displayName
};

annotate service.ServiceOfferings with @cds.search: {
  name,
  displayName
};
