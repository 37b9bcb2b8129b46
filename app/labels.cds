/*
 * Labels of the domain model for every Fiori app: all texts come from _i18n/i18n.properties.
 * Annotated on the db entities so that every projection (and every association to them) inherits them.
 */
using {btp.provisioning as db} from '../db/schema';
using {ProvisioningService} from '../srv/provisioning-service';

annotate db.Subaccounts with @title: '{i18n>Subaccount}' {
  ID              @title: '{i18n>Subaccount}';
  displayName     @title: '{i18n>DisplayName}';
  subaccountId    @title: '{i18n>SubaccountId}';
  subdomain       @title: '{i18n>Subdomain}';
  region          @title: '{i18n>Region}';
  globalAccount   @title: '{i18n>GlobalAccount}';
  destination     @title: '{i18n>Destination}';
  catalogSyncedAt @title: '{i18n>CatalogSyncedAt}';
  health          @title: '{i18n>Health}';
  offerings       @title: '{i18n>Offerings}';
  plans           @title: '{i18n>Plans}';
  instances       @title: '{i18n>Instances}';
  findings        @title: '{i18n>Findings}';
}

annotate db.Findings with @title: '{i18n>Finding}' {
  ID           @title: '{i18n>Finding}';
  subaccount   @title: '{i18n>Subaccount}';
  category     @title: '{i18n>FindingCategory}';
  resourceType @title: '{i18n>ResourceType}';
  smId         @title: '{i18n>SmId}';
  name         @title: '{i18n>Name}';
  instanceSmId @title: '{i18n>InstanceSmId}';
  instance     @title: '{i18n>Instance}';
  serviceKey   @title: '{i18n>Key}';
  environment  @title: '{i18n>Environment}';
  space        @title: '{i18n>Space}';
  detail       @title: '{i18n>FindingDetail}';
  status       @title: '{i18n>FindingStatus}';
}

annotate db.ServiceOfferings with @title: '{i18n>Offering}' {
  ID          @title: '{i18n>Offering}';
  subaccount  @title: '{i18n>Subaccount}';
  name        @title: '{i18n>Offering}';
  description @title: '{i18n>Description}';
  smId        @title: '{i18n>SmId}';
  bindable    @title: '{i18n>Bindable}';
  plans       @title: '{i18n>Plans}';
}

annotate db.ServicePlans with @title: '{i18n>Plan}' {
  ID          @title: '{i18n>Plan}';
  subaccount  @title: '{i18n>Subaccount}';
  offering    @title: '{i18n>Offering}';
  name        @title: '{i18n>Plan}';
  description @title: '{i18n>Description}';
  smId        @title: '{i18n>SmId}';
  free        @title: '{i18n>Free}';
  entitled    @title: '{i18n>Entitled}';
}

annotate db.ServiceInstances with @title: '{i18n>Instance}' {
  ID          @title: '{i18n>Instance}';
  state       @title: '{i18n>State}';
  smId        @title: '{i18n>SmId}';
  lastOperation @title: '{i18n>LastOperation}';
  lastError   @title: '{i18n>LastError}';
  subaccount  @title: '{i18n>Subaccount}';
  offering    @title: '{i18n>Offering}';
  plan        @title: '{i18n>Plan}';
  environment @title: '{i18n>Environment}';
  space       @title: '{i18n>Space}';
  name        @title: '{i18n>Name}';
  parameters  @title: '{i18n>Parameters}';
  labels      @title: '{i18n>Labels}';
  template    @title: '{i18n>Template}';
  keys        @title: '{i18n>Keys}';
  operations  @title: '{i18n>Operations}';
}

annotate db.ServiceKeys with @title: '{i18n>Key}' {
  ID              @title: '{i18n>Key}';
  state           @title: '{i18n>State}';
  smId            @title: '{i18n>SmId}';
  lastOperation   @title: '{i18n>LastOperation}';
  lastError       @title: '{i18n>LastError}';
  instance        @title: '{i18n>Instance}';
  name            @title: '{i18n>Name}';
  credentialType  @title: '{i18n>CredentialType}';
  certificate     @title: '{i18n>Certificate}';
  keyLength       @title: '{i18n>KeyLength}';
  validity        @title: '{i18n>Validity}';
  validityType    @title: '{i18n>ValidityType}';
  parameters      @title: '{i18n>Parameters}';
  clientId        @title: '{i18n>ClientId}';
  tokenUrl        @title: '{i18n>TokenUrl}';
  apiUrl          @title: '{i18n>ApiUrl}';
  certFingerprint @title: '{i18n>CertFingerprint}';
  expiresAt       @title: '{i18n>ExpiresAt}';
  expiry          @title: '{i18n>Expiry}';
  verification    @title: '{i18n>Verification}';
  verifiedAt      @title: '{i18n>VerifiedAt}';
  verifyStatus    @title: '{i18n>VerifyStatus}';
  verifyLatency   @title: '{i18n>VerifyLatency}';
  verifyMessage   @title: '{i18n>VerifyMessage}';
  rotatedFrom     @title: '{i18n>RotatedFrom}';
  rotatedTo       @title: '{i18n>RotatedTo}';
  rotatedAt       @title: '{i18n>RotatedAt}';
  rotationReason  @title: '{i18n>RotationReason}';
  rotationError   @title: '{i18n>RotationError}'  @UI.MultiLineText;
  retireAt        @title: '{i18n>RetireAt}';
  rotateEveryDays        @title: '{i18n>RotateEveryDays}';
  rotateBeforeExpiryDays @title: '{i18n>RotateBeforeExpiryDays}';
  rotationOverlapHours   @title: '{i18n>RotationOverlapHours}';
  registrations   @title: '{i18n>Registrations}';
  operations      @title: '{i18n>Operations}';
}

annotate db.Certificates with @title: '{i18n>Certificate}' {
  ID           @title: '{i18n>Certificate}';
  name         @title: '{i18n>Name}';
  pem          @title: '{i18n>Pem}';
  subject      @title: '{i18n>Subject}';
  issuer       @title: '{i18n>Issuer}';
  serialNumber @title: '{i18n>SerialNumber}';
  notBefore    @title: '{i18n>NotBefore}';
  notAfter     @title: '{i18n>NotAfter}';
  fingerprint  @title: '{i18n>Fingerprint}';
  keyAlgorithm @title: '{i18n>KeyAlgorithm}';
  keySize      @title: '{i18n>KeySize}';
  clientAuth   @title: '{i18n>ClientAuth}';
  expiry       @title: '{i18n>Expiry}';
  keys         @title: '{i18n>Keys}';
}

annotate db.Registrations with @title: '{i18n>Registration}' {
  ID           @title: '{i18n>Registration}';
  serviceKey   @title: '{i18n>Key}';
  consumerType @title: '{i18n>ConsumerType}';
  tenant       @title: '{i18n>Tenant}';
  status       @title: '{i18n>Status}';
}

annotate db.Operations with @title: '{i18n>Operation}' {
  ID          @title: '{i18n>Operation}';
  type        @title: '{i18n>Type}';
  targetType  @title: '{i18n>TargetType}';
  subaccount  @title: '{i18n>Subaccount}';
  instance    @title: '{i18n>Instance}';
  serviceKey  @title: '{i18n>Key}';
  state       @title: '{i18n>State}';
  smLocation  @title: '{i18n>SmLocation}';
  attempts    @title: '{i18n>Attempts}';
  nextAttempt @title: '{i18n>NextAttempt}';
  deadline    @title: '{i18n>Deadline}';
  startedAt   @title: '{i18n>StartedAt}';
  finishedAt  @title: '{i18n>FinishedAt}';
  error       @title: '{i18n>Error}';
  httpStatus  @title: '{i18n>HttpStatus}';
  latency     @title: '{i18n>Latency}';
}

annotate db.Templates with @title: '{i18n>Template}' {
  ID               @title: '{i18n>Template}';
  name             @title: '{i18n>Name}';
  description      @title: '{i18n>Description}';
  offeringName     @title: '{i18n>Offering}';
  planName         @title: '{i18n>Plan}';
  environment      @title: '{i18n>Environment}';
  parameters       @title: '{i18n>Parameters}';
  credentialType   @title: '{i18n>CredentialType}';
  keyParameters    @title: '{i18n>KeyParameters}';
  credentialFields @title: '{i18n>CredentialFields}';
}

annotate db.LifecycleStates with @title: '{i18n>State}' {
  code        @title: '{i18n>State}';
  criticality @title: '{i18n>Criticality}';
}

annotate db.OperationStates with @title: '{i18n>State}' {
  code        @title: '{i18n>State}';
  criticality @title: '{i18n>Criticality}';
}

annotate db.VerificationStates with @title: '{i18n>Verification}' {
  code        @title: '{i18n>Verification}';
  criticality @title: '{i18n>Criticality}';
}

annotate db.ExpiryStates with @title: '{i18n>Expiry}' {
  code        @title: '{i18n>Expiry}';
  criticality @title: '{i18n>Criticality}';
}

annotate ProvisioningService.Certificates with {
  daysLeft @title: '{i18n>DaysLeft}';
}

annotate ProvisioningService.Subaccounts actions {
  syncCatalog @title: '{i18n>SyncCatalog}';
}

annotate ProvisioningService.ServiceInstances actions {
  refresh @title: '{i18n>Refresh}';
}

annotate ProvisioningService.ServiceKeys actions {
  refresh           @title: '{i18n>Refresh}';
  verify            @title: '{i18n>Verify}';
  revealCredentials @title: '{i18n>RevealCredentials}';
}

annotate db.CredentialTypes with @title: '{i18n>CredentialType}' {
  code @title: '{i18n>CredentialType}';
}

annotate db.Environments with @title: '{i18n>Environment}' {
  code @title: '{i18n>Environment}';
}

annotate db.OperationTypes with @title: '{i18n>Type}' {
  code @title: '{i18n>Type}';
}

annotate db.TargetTypes with @title: '{i18n>TargetType}' {
  code @title: '{i18n>TargetType}';
}

annotate db.HealthStates with @title: '{i18n>Health}' {
  code        @title: '{i18n>Health}';
  criticality @title: '{i18n>Criticality}';
}

annotate db.EntitlementStates with @title: '{i18n>Entitled}' {
  code        @title: '{i18n>Entitled}';
  criticality @title: '{i18n>Criticality}';
}

// keys delivered into BTP destinations (srv/destinations/)
annotate db.Registrations with {
  destinationTarget @title: '{i18n>DestinationTarget}';
  deliveredKey      @title: '{i18n>DeliveredKey}';
  delivery          @title: '{i18n>Delivery}';
  deliveredAt       @title: '{i18n>DeliveredAt}';
  deliveryError     @title: '{i18n>DeliveryError}';
  deliveryAttempts  @title: '{i18n>DeliveryAttempts}';
  deliverAt         @title: '{i18n>DeliverAt}';
}

annotate db.DestinationTargets with @title: '{i18n>DestinationTarget}' {
  ID           @title: '{i18n>DestinationTarget}';
  subaccount   @title: '{i18n>Subaccount}';
  uri          @title: '{i18n>DestinationServiceUri}';
  tokenUrl     @title: '{i18n>TokenUrl}';
  clientId     @title: '{i18n>ClientId}';
  clientSecret @title: '{i18n>ClientSecret}';
}
