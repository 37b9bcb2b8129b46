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
    Text           : name,
    TextArrangement: #TextOnly
  };
  subaccount @Common: {
    Text           : subaccount.displayName,
    TextArrangement: #TextOnly
  };
}

annotate service.ServicePlans with {
  ID         @Common: {
    Text           : name,
    TextArrangement: #TextOnly
  };
  subaccount @Common: {
    Text           : subaccount.displayName,
    TextArrangement: #TextOnly
  };
  offering   @Common: {
    Text           : offering.name,
    TextArrangement: #TextOnly
  };
}

annotate service.ServiceInstances with {
  offering @Common: {
    Text           : offering.name,
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
  // only entitled plans of the chosen subaccount can be provisioned
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
          $Type            : 'Common.ValueListParameterConstant',
          ValueListProperty: 'entitled',
          Constant         : 'true'
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
