// Server nodes sharing one store. Each node writes a heartbeat into its record; a node that has not written
// one for `deadAfterMs` is dead, and the first node to see it (the store's compare-and-set settles who) ends
// the sessions the dead node ran, with the reason. A node that comes back clears its mark. With the embedded
// SQLite store there is one node, and this only keeps its record.
import type { Logger } from 'pino';
import type { StateStore, StoredRecord } from '../store/state-store.js';
import { VersionConflictError } from '../store/state-store.js';

export interface NodeRecord {
  NodeId: string;
  /** Where the node serves the Athena API, for requests about its sessions that reach another node. */
  Endpoint: string;
  StartedAt: number;
  HeartbeatAt: number;
  /** Set by the node that found this one dead; cleared when it starts again. */
  DeadSince?: number;
}

export interface NodeMembershipOptions {
  store: StateStore;
  log: Logger;
  now: () => number;
  nodeId: string;
  endpoint: string;
  heartbeatMs: number;
  deadAfterMs: number;
  /** Ends the sessions of a node found dead; called on one node only. */
  onNodeDead: (nodeId: string, reason: string) => Promise<void>;
  /** This node was found dead while it was only slow: its sessions were ended, so their runners must stop. */
  onRevived: () => Promise<void>;
}

export class NodeMembership {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private own: StoredRecord<NodeRecord> | undefined;

  constructor(private readonly o: NodeMembershipOptions) {}

  get nodeId(): string {
    return this.o.nodeId;
  }

  /** Writes this node's record, live, with a fresh heartbeat, then beats and watches the others. */
  async join(): Promise<void> {
    const now = this.o.now();
    const body: NodeRecord = { NodeId: this.o.nodeId, Endpoint: this.o.endpoint, StartedAt: now, HeartbeatAt: now };
    const existing = await this.o.store.get<NodeRecord>('node', this.o.nodeId);
    this.own = existing
      ? await this.o.store.update('node', this.o.nodeId, existing.version, { body })
      : await this.o.store.create<NodeRecord>({ kind: 'node', id: this.o.nodeId, createdAt: now, body });
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => {
        this.ticking = undefined;
      });
    }, this.o.heartbeatMs);
    this.timer.unref();
  }

  async leave(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
  }

  /** The endpoint of `nodeId`, unless it is unknown or found dead. */
  async endpointOf(nodeId: string): Promise<string | undefined> {
    const record = await this.o.store.get<NodeRecord>('node', nodeId);
    return record && record.body.DeadSince === undefined ? record.body.Endpoint : undefined;
  }

  private async tick(): Promise<void> {
    try {
      await this.beat();
      await this.findDead();
    } catch (error) {
      this.o.log.error({ err: error }, 'node heartbeat failed');
    }
  }

  private async beat(): Promise<void> {
    const now = this.o.now();
    const current = this.own ?? (await this.o.store.get<NodeRecord>('node', this.o.nodeId));
    if (!current) return;
    try {
      this.own = await this.o.store.update('node', this.o.nodeId, current.version, { body: { ...current.body, HeartbeatAt: now } });
    } catch (error) {
      if (!(error instanceof VersionConflictError)) throw error;
      // Another node marked this one dead while it could not beat (a pause longer than the dead time): its
      // sessions have been ended, and it is live again from now on.
      const fresh = await this.o.store.get<NodeRecord>('node', this.o.nodeId);
      if (!fresh) return;
      this.o.log.warn({ deadSince: fresh.body.DeadSince }, 'this node was found dead by another; it is live again');
      const { DeadSince: _dead, ...body } = fresh.body;
      this.own = await this.o.store.update('node', this.o.nodeId, fresh.version, { body: { ...body, HeartbeatAt: now } });
      await this.o.onRevived();
    }
  }

  private async findDead(): Promise<void> {
    const now = this.o.now();
    let after: string | undefined;
    do {
      const page = await this.o.store.list<NodeRecord>({ kind: 'node', order: 'id', limit: 100, ...(after ? { after } : {}) });
      for (const node of page.records) {
        if (node.id === this.o.nodeId || node.body.DeadSince !== undefined) continue;
        if (now - node.body.HeartbeatAt < this.o.deadAfterMs) continue;
        try {
          await this.o.store.update('node', node.id, node.version, { body: { ...node.body, DeadSince: now } });
        } catch (error) {
          if (error instanceof VersionConflictError) continue; // It beat, or another node got there first.
          throw error;
        }
        const seconds = Math.round((now - node.body.HeartbeatAt) / 1000);
        const reason = `The Owlet server node ${node.id} that ran the session stopped answering (no heartbeat for ${seconds} seconds).`;
        this.o.log.warn({ node: node.id }, 'found a dead node; ending its sessions');
        await this.o.onNodeDead(node.id, reason);
      }
      after = page.cursor;
    } while (after);
  }
}
