/**
 * The first page of each Fiori app's list report, as Fiori elements asks for it from the annotations
 * (app/<app>/annotations.cds: LineItem columns and their criticality, texts of app/value-helps.cds,
 * PresentationVariant sort order; manifest.json: ResponsiveTable, initial load). Used by the list-query
 * benchmark and by the index tests (test/indexes.test.ts, test/security-postgres.test.ts).
 */
export interface ListRequest {
  app: string
  /** the entity set, also the entity read */
  entity: 'Subaccounts' | 'ServiceInstances' | 'ServiceKeys' | 'Certificates'
  /** the query options, URL-encoded */
  query: string
}

const codes = 'code,criticality,name'

const q = (options: Record<string, string>) =>
  Object.entries(options)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&')

export const LIST_REQUESTS: ListRequest[] = [
  {
    app: 'subaccounts',
    entity: 'Subaccounts',
    query: q({
      $count: 'true',
      $select: 'ID,catalogSyncedAt,displayName,globalAccount,health,region,subaccountId,subdomain',
      $orderby: 'displayName',
      $skip: '0',
      $top: '30'
    })
  },
  {
    app: 'serviceinstances',
    entity: 'ServiceInstances',
    query: q({
      $count: 'true',
      $select: 'ID,environment,modifiedAt,name,offering_ID,plan_ID,state_code,subaccount_ID',
      $expand: `offering($select=ID,name),plan($select=ID,name),state($select=${codes}),subaccount($select=ID,displayName)`,
      $orderby: 'modifiedAt desc',
      $skip: '0',
      $top: '30'
    })
  },
  {
    app: 'servicekeys',
    entity: 'ServiceKeys',
    query: q({
      $count: 'true',
      $select: 'ID,credentialType,expiresAt,expiry_code,instance_ID,name,state_code,verification_code,verifiedAt',
      $expand: `expiry($select=${codes}),instance($select=ID,name),state($select=${codes}),verification($select=${codes})`,
      $orderby: 'modifiedAt desc',
      $skip: '0',
      $top: '30'
    })
  },
  {
    app: 'certificates',
    entity: 'Certificates',
    query: q({
      $count: 'true',
      $select: 'ID,clientAuth,daysLeft,expiry_code,issuer,keyAlgorithm,name,notAfter,subject',
      $expand: `expiry($select=${codes})`,
      $orderby: 'notAfter',
      $skip: '0',
      $top: '30'
    })
  }
]
