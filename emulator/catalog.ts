/**
 * Default catalog of the emulator: offerings, plans, the credential shape each plan's bindings get,
 * and the dev-only default tenants.
 *
 * Credential shapes are plain data. Strings in `template` may contain {{var}} placeholders, filled by
 * emulator/credentials.ts. The OAuth client block (clientid + clientsecret + url for binding-secret,
 * later certificate/key/certurl for x509) is NOT part of the template: the credential factory of the
 * binding's credential-type builds it and merges it at `oauthPath` ([] = top level, ['uaa'] = nested).
 *
 * Placeholders: subaccountId, subdomain, region, uaaUrl, certUrl, uaaDomain, instanceId, instanceName,
 * bindingId, bindingName, xsappname, appName, credentialType, brokerNo, offering, plan.
 *
 * credential-types: every offering supports every registered credential-type ('binding-secret', 'x509')
 * for its bindings, flat or nested under "xsuaa" in the binding parameters. `credentialTypes` narrows
 * what an instance accepts when its own parameters do not configure
 * oauth2-configuration.credential-types (xsuaa: x509 must be enabled in xs-security.json).
 */
import type { EmulatorTenant } from './types'
import { nameUuid } from './ids'

export interface CredentialShape {
  /** the credentials object without the OAuth client block */
  template: Record<string, unknown>
  /** where the OAuth client block goes; [] = top level */
  oauthPath: string[]
  /** template of the xsappname the binding's OAuth client belongs to */
  xsappname: string
  /** number used in generated "!b<n>" / "!t<n>" suffixes */
  brokerNo: number
}

export interface CatalogPlan {
  name: string
  description: string
  free?: boolean
  bindable?: boolean
  plan_updateable?: boolean
  metadata?: Record<string, unknown>
  /** overrides the offering's credential shape */
  credentials?: CredentialShape
  /** overrides the offering's credentialTypes */
  credentialTypes?: string[]
}

export interface CatalogOffering {
  name: string
  description: string
  bindable?: boolean
  plan_updateable?: boolean
  instances_retrievable?: boolean
  bindings_retrievable?: boolean
  tags?: string[]
  metadata?: Record<string, unknown>
  credentials: CredentialShape
  /**
   * credential-types bindings may use when the instance parameters carry no
   * oauth2-configuration.credential-types; the first is the default. Absent = every registered type.
   */
  credentialTypes?: string[]
  plans: CatalogPlan[]
}

/** Deterministic id of an offering (stable across runs). */
export function offeringId(offering: string): string {
  return nameUuid(`service-offering:${offering}`)
}

/** Deterministic id of a plan of an offering (stable across runs). */
export function planId(offering: string, plan: string): string {
  return nameUuid(`service-plan:${offering}:${plan}`)
}

/** Deterministic id of the (fake) broker serving an offering. */
export function brokerId(offering: string): string {
  return nameUuid(`service-broker:${offering}`)
}

/** xsuaa-style flat shape (also used by the broker plan with another tenant mode / suffix). */
function xsuaaShape(tenantmode: 'dedicated' | 'shared', suffix: 't' | 'b'): CredentialShape {
  return {
    oauthPath: [],
    xsappname: `{{appName}}!${suffix}{{brokerNo}}`,
    brokerNo: 2187,
    template: {
      uaadomain: '{{uaaDomain}}',
      xsappname: '{{xsappname}}',
      identityzone: '{{subdomain}}',
      identityzoneid: '{{subaccountId}}',
      tenantid: '{{subaccountId}}',
      tenantmode,
      subaccountid: '{{subaccountId}}',
      zoneid: '{{subaccountId}}',
      apiurl: 'https://api.authentication.{{region}}.emulator.invalid',
      sburl: 'https://internal-xsuaa.authentication.{{region}}.emulator.invalid',
      'credential-type': '{{credentialType}}',
      serviceInstanceId: '{{instanceId}}'
    }
  }
}

/** Nested `uaa` block content shared by services that wrap an xsuaa client. */
const WRAPPED_UAA = {
  uaadomain: '{{uaaDomain}}',
  xsappname: '{{xsappname}}',
  identityzone: '{{subdomain}}',
  identityzoneid: '{{subaccountId}}',
  tenantid: '{{subaccountId}}',
  tenantmode: 'dedicated',
  'credential-type': '{{credentialType}}'
}

export const DEFAULT_CATALOG: CatalogOffering[] = [
  {
    name: 'aicore',
    description: 'SAP AI Core: run AI scenarios and access generative AI models',
    bindable: true,
    tags: ['aicore', 'ai'],
    metadata: { displayName: 'SAP AI Core' },
    credentials: {
      oauthPath: [],
      xsappname: 'aicore!b540',
      brokerNo: 540,
      template: {
        serviceurls: { AI_API_URL: 'https://api.ai.prod.{{region}}.emulator.invalid' },
        appname: '{{instanceId}}!b{{brokerNo}}|{{xsappname}}',
        identityzone: '{{subdomain}}',
        identityzoneid: '{{subaccountId}}',
        uaadomain: '{{uaaDomain}}'
      }
    },
    plans: [
      { name: 'extended', description: 'Full AI Core feature set incl. generative AI hub', free: false, bindable: true },
      { name: 'standard', description: 'AI Core for custom models', free: false, bindable: true }
    ]
  },
  {
    name: 'integration-assessment',
    description: 'Integration Assessment: integration strategy and technology guidance',
    bindable: true,
    tags: ['integration-assessment'],
    metadata: { displayName: 'SAP Integration Suite, integration assessment' },
    credentials: {
      oauthPath: [],
      xsappname: 'integration-assessment!b305',
      brokerNo: 305,
      template: {
        entities: 'https://{{subdomain}}.ia.{{region}}.emulator.invalid/api/v1',
        identityzone: '{{subdomain}}',
        tenantid: '{{subaccountId}}'
      }
    },
    plans: [{ name: 'default', description: 'API access to integration assessment', free: false, bindable: true }]
  },
  {
    name: 'advanced-financial-closing',
    description: 'Advanced Financial Closing: plan and run financial close tasks',
    bindable: true,
    tags: ['afc'],
    metadata: { displayName: 'SAP S/4HANA Cloud for advanced financial closing' },
    credentials: {
      oauthPath: ['uaa'],
      xsappname: 'fccapp!b1014',
      brokerNo: 1014,
      template: {
        url: 'https://{{subdomain}}.afc.{{region}}.emulator.invalid',
        uaa: { ...WRAPPED_UAA }
      }
    },
    plans: [{ name: 'api-standard', description: 'Public API access', free: false, bindable: true }]
  },
  {
    name: 'cloudalm-api',
    description: 'SAP Cloud ALM API',
    bindable: true,
    tags: ['cloudalm'],
    metadata: { displayName: 'SAP Cloud ALM API' },
    credentials: {
      oauthPath: ['uaa'],
      xsappname: 'calm-api!b2471',
      brokerNo: 2471,
      template: {
        endpoints: { Api: 'https://{{subdomain}}.{{region}}.alm.emulator.invalid/api' },
        uaa: { ...WRAPPED_UAA }
      }
    },
    plans: [{ name: 'standard', description: 'Access to the Cloud ALM APIs', free: true, bindable: true }]
  },
  {
    name: 'xsuaa',
    description: 'Authorization and Trust Management (XSUAA)',
    bindable: true,
    plan_updateable: true,
    tags: ['xsuaa'],
    metadata: { displayName: 'Authorization and Trust Management Service' },
    credentials: xsuaaShape('dedicated', 't'),
    // xs-security.json default: x509 needs "oauth2-configuration": {"credential-types": [..., "x509"]}
    credentialTypes: ['binding-secret', 'instance-secret'],
    plans: [
      { name: 'application', description: 'Application plan', free: true, bindable: true },
      { name: 'broker', description: 'Reuse service / broker plan', free: true, bindable: true, credentials: xsuaaShape('shared', 'b') }
    ]
  }
]

// ---------------------------------------------------------------------------------------------
// Default tenants. DEV ONLY: these ids and secrets exist only inside the local emulator.
// ---------------------------------------------------------------------------------------------

export const DEV_SUBACCOUNT_1_ID = '3f6f6a2e-8b1c-4d7a-9e2f-1a2b3c4d5e61'
export const DEV_SUBACCOUNT_2_ID = '7c1d9e4b-2a3f-4b8c-8d5e-6f7a8b9c0d72'

export const DEV_TENANT_1_CLIENT_ID = 'sb-emu-sm-subaccount-1!b101|service-manager!b1'
/** DEV ONLY secret for the emulator's tenant 1 — never a real credential */
export const DEV_TENANT_1_CLIENT_SECRET = 'dev-only-emulator-secret-1'

export const DEV_TENANT_2_CLIENT_ID = 'sb-emu-sm-subaccount-2!b102|service-manager!b1'
/** DEV ONLY secret for the emulator's tenant 2 — never a real credential */
export const DEV_TENANT_2_CLIENT_SECRET = 'dev-only-emulator-secret-2'

const SUBACCOUNT_2_ENTITLEMENTS = [
  'integration-assessment:default',
  'advanced-financial-closing:api-standard',
  'cloudalm-api:standard',
  'xsuaa:application'
]

export const DEFAULT_TENANTS: EmulatorTenant[] = [
  {
    subaccountId: DEV_SUBACCOUNT_1_ID,
    subdomain: 'dev-subaccount-1',
    clientid: DEV_TENANT_1_CLIENT_ID,
    clientsecret: DEV_TENANT_1_CLIENT_SECRET,
    entitled: ['aicore:extended', ...SUBACCOUNT_2_ENTITLEMENTS]
  },
  {
    subaccountId: DEV_SUBACCOUNT_2_ID,
    subdomain: 'dev-subaccount-2',
    clientid: DEV_TENANT_2_CLIENT_ID,
    clientsecret: DEV_TENANT_2_CLIENT_SECRET,
    entitled: [...SUBACCOUNT_2_ENTITLEMENTS]
  }
]

/** Fresh deep copies of the default tenants (so a caller mutating them does not affect other runs). */
export function defaultTenants(): EmulatorTenant[] {
  return DEFAULT_TENANTS.map((t) => ({ ...t, entitled: [...t.entitled] }))
}
