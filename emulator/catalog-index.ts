/** Read side of the catalog: offering/plan objects as SM returns them, filtered by entitlements. */
import type { EmulatorTenant } from './types'
import { brokerId, offeringId, planId, type CatalogOffering, type CatalogPlan } from './catalog'
import type { Sequenced } from './paging'

/** Fixed timestamp for catalog objects, so their representation is stable across runs. */
const CATALOG_TIME = '2024-01-01T00:00:00.000Z'

export interface PlanEntry {
  id: string
  offering: CatalogOffering
  plan: CatalogPlan
  offeringId: string
  seq: number
}

export interface OfferingEntry {
  id: string
  offering: CatalogOffering
  seq: number
}

export const OFFERING_FIELDS = [
  'id', 'name', 'description', 'catalog_id', 'catalog_name', 'broker_id', 'bindable', 'instances_retrievable',
  'bindings_retrievable', 'plan_updateable', 'allow_context_updates', 'tags', 'metadata', 'ready', 'created_at', 'updated_at'
]

export const PLAN_FIELDS = [
  'id', 'name', 'description', 'catalog_id', 'catalog_name', 'free', 'bindable', 'plan_updateable',
  'service_offering_id', 'metadata', 'ready', 'created_at', 'updated_at'
]

export class CatalogIndex {
  readonly offerings = new Map<string, OfferingEntry>()
  readonly plans = new Map<string, PlanEntry>()

  constructor(readonly catalog: CatalogOffering[]) {
    let seq = 0
    for (const offering of catalog) {
      const oid = offeringId(offering.name)
      this.offerings.set(oid, { id: oid, offering, seq: ++seq })
      for (const plan of offering.plans) {
        const pid = planId(offering.name, plan.name)
        this.plans.set(pid, { id: pid, offering, plan, offeringId: oid, seq: ++seq })
      }
    }
  }

  isEntitled(tenant: EmulatorTenant, p: PlanEntry): boolean {
    return tenant.entitled.includes(`${p.offering.name}:${p.plan.name}`)
  }

  entitledPlans(tenant: EmulatorTenant): PlanEntry[] {
    return [...this.plans.values()].filter((p) => this.isEntitled(tenant, p))
  }

  entitledOfferings(tenant: EmulatorTenant): OfferingEntry[] {
    const ids = new Set(this.entitledPlans(tenant).map((p) => p.offeringId))
    return [...this.offerings.values()].filter((o) => ids.has(o.id))
  }

  /** Entitled plan by id, or by offering name + plan name. */
  findEntitledPlan(tenant: EmulatorTenant, by: { id?: string; offeringName?: string; planName?: string }): PlanEntry | undefined {
    return this.entitledPlans(tenant).find((p) =>
      by.id !== undefined ? p.id === by.id : p.offering.name === by.offeringName && p.plan.name === by.planName
    )
  }

  /** Any catalog plan (entitled or not) by names. */
  findPlanByNames(offeringName: string, planName: string): PlanEntry | undefined {
    return this.plans.get(planId(offeringName, planName))
  }

  offeringView(o: OfferingEntry): Record<string, unknown> {
    const off = o.offering
    return {
      id: o.id,
      ready: true,
      name: off.name,
      description: off.description,
      bindable: off.bindable ?? true,
      instances_retrievable: off.instances_retrievable ?? true,
      bindings_retrievable: off.bindings_retrievable ?? true,
      plan_updateable: off.plan_updateable ?? false,
      allow_context_updates: false,
      tags: [...(off.tags ?? [])],
      metadata: structuredClone(off.metadata ?? {}),
      broker_id: brokerId(off.name),
      catalog_id: o.id,
      catalog_name: off.name,
      created_at: CATALOG_TIME,
      updated_at: CATALOG_TIME,
      labels: {}
    }
  }

  planView(p: PlanEntry): Record<string, unknown> {
    return {
      id: p.id,
      ready: true,
      name: p.plan.name,
      description: p.plan.description,
      catalog_id: p.id,
      catalog_name: p.plan.name,
      free: p.plan.free ?? false,
      bindable: p.plan.bindable ?? p.offering.bindable ?? true,
      plan_updateable: p.plan.plan_updateable ?? p.offering.plan_updateable ?? false,
      metadata: structuredClone(p.plan.metadata ?? {}),
      service_offering_id: p.offeringId,
      created_at: CATALOG_TIME,
      updated_at: CATALOG_TIME,
      labels: {}
    }
  }

  offeringItems(tenant: EmulatorTenant): Sequenced<Record<string, unknown>>[] {
    return this.entitledOfferings(tenant).map((o) => ({ seq: o.seq, item: this.offeringView(o) }))
  }

  planItems(tenant: EmulatorTenant): Sequenced<Record<string, unknown>>[] {
    return this.entitledPlans(tenant).map((p) => ({ seq: p.seq, item: this.planView(p) }))
  }
}
