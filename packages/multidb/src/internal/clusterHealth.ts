/**
 * Readiness of a Redis Cluster database, as its health check judges it: every master the client knows answers, and
 * each one reports the cluster ready (`CLUSTER INFO`: `cluster_state:ok`, all 16384 slots assigned and served). A
 * master answers PING while its cluster is down (for instance during the seconds after a restarted master rejoins),
 * and every command sent to it then gets `CLUSTERDOWN`: a PING alone would fail traffic back too early.
 */

/** Number of hash slots of a Redis Cluster. */
export const slotCount = 16384

/** The cluster is reachable but not ready to serve; the message names the master and what it reports. */
export class ClusterNotReady extends Error {
  override readonly name = "ClusterNotReady"
}

/** What one master reports about its cluster. */
export interface Report {
  readonly state: string | undefined
  readonly slotsAssigned: number | undefined
  readonly slotsOk: number | undefined
}

const field = (info: string, name: string): string | undefined => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1]

const count = (info: string, name: string): number | undefined => {
  const value = field(info, name)
  return value === undefined ? undefined : Number(value)
}

/** Reads the fields that matter from a `CLUSTER INFO` reply. */
export const parse = (info: string): Report => ({
  state: field(info, "cluster_state"),
  slotsAssigned: count(info, "cluster_slots_assigned"),
  slotsOk: count(info, "cluster_slots_ok")
})

/** Why a master's report means the cluster cannot serve, or `undefined` when it can. */
export const problem = (report: Report): string | undefined => {
  if (report.state !== "ok") return `cluster_state:${report.state ?? "(missing)"}`
  if (report.slotsAssigned !== slotCount) return `cluster_slots_assigned:${report.slotsAssigned ?? "(missing)"}`
  if (report.slotsOk !== slotCount) return `cluster_slots_ok:${report.slotsOk ?? "(missing)"}`
  return undefined
}

/** The parts of a node-redis cluster client the check uses. */
export interface ClusterView {
  readonly masters: ReadonlyArray<Master>
  nodeClient(master: Master): Promise<{ sendCommand(args: Array<string>): Promise<unknown> }>
}

interface Master {
  readonly host: string
  readonly port: number
}

/**
 * Asks every master of the cluster for `CLUSTER INFO`, concurrently. Resolves when all answer that the cluster is
 * ready; rejects with the first master's error (it does not answer) or with `ClusterNotReady`.
 */
export const check = async (cluster: ClusterView): Promise<void> => {
  const masters = cluster.masters
  if (masters.length === 0) throw new ClusterNotReady("the cluster has no known master")
  const problems = await Promise.all(
    masters.map(async (master) => {
      const client = await cluster.nodeClient(master)
      const reply = await client.sendCommand(["CLUSTER", "INFO"])
      const found = problem(parse(String(reply)))
      return found === undefined ? undefined : `${master.host}:${master.port} reports ${found}`
    })
  )
  const notReady = problems.filter((p): p is string => p !== undefined)
  if (notReady.length > 0) {
    throw new ClusterNotReady(`the cluster is not ready to serve: ${notReady.join("; ")}`)
  }
}

/**
 * The slots a cluster client's map has no node for, described for a message ("5462 of 16384 slots: 5461-10922"), or
 * `undefined` when the map is whole. node-redis builds its map from the cluster's answer at its last discovery and
 * rediscovers only on a MOVED reply: a discovery made while a master was out leaves a hole that a command to one of
 * those slots never repairs (the client throws a `TypeError` before sending anything).
 */
export const unmappedSlots = (slots: ArrayLike<unknown> | undefined): string | undefined => {
  if (slots === undefined) return `${slotCount} of ${slotCount} slots (the client has no map)`
  const ranges: Array<string> = []
  let missing = 0
  let start = -1
  for (let slot = 0; slot <= slotCount; slot++) {
    const hole = slot < slotCount && slots[slot] === undefined
    if (hole) {
      missing++
      if (start < 0) start = slot
    } else if (start >= 0) {
      if (ranges.length < 3) ranges.push(start === slot - 1 ? String(start) : `${start}-${slot - 1}`)
      else if (ranges.length === 3) ranges.push("…")
      start = -1
    }
  }
  return missing === 0 ? undefined : `${missing} of ${slotCount} slots: ${ranges.join(", ")}`
}
