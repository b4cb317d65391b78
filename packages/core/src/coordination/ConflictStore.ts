/**
 * Storage of conflicts and suggestions (tables `conflicts` and `conflict_suggestions`): every row is
 * decoded with a Schema into the domain shape; nothing outside this module sees a row.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { Database, type DbFailure } from "../platform/Database.js"
import {
  Conflict,
  ConflictNotFound,
  ConflictType,
  GitKind,
  HunkChoice,
  HunkDetail,
  Severity,
  Strategy,
  Suggestion,
  SymbolChange
} from "./ConflictModel.js"

/** A name one side renamed or deleted in another file, whose uses the other side adds in this one. */
export const BrokenUse = Schema.Struct({
  name: Schema.String,
  to: Schema.NullOr(Schema.String),
  file: Schema.String,
  by: Schema.String,
  usedBy: Schema.String
})
export type BrokenUse = typeof BrokenUse.Type

/** A recorded conflict with what re-analysing it needs: the blobs of its three versions and its cross-file findings. */
export const StoredConflict = Schema.Struct({
  conflict: Conflict,
  oids: Schema.Struct({ base: Schema.NullOr(Schema.String), ours: Schema.NullOr(Schema.String), theirs: Schema.NullOr(Schema.String) }),
  brokenUses: Schema.Array(BrokenUse)
})
export type StoredConflict = typeof StoredConflict.Type

const Iso = Schema.transform(Schema.Number, Schema.String, {
  strict: true,
  decode: (n) => new Date(n).toISOString(),
  encode: (s) => Date.parse(s)
})
const Bool = Schema.transform(Schema.Literal(0, 1), Schema.Boolean, { strict: true, decode: (n) => n === 1, encode: (b) => (b ? 1 : 0) })

const Details = Schema.parseJson(Schema.Struct({
  reasons: Schema.Array(Schema.String),
  symbols: Schema.Array(SymbolChange),
  regions: Schema.Number,
  guidance: Schema.String,
  brokenUses: Schema.optionalWith(Schema.Array(BrokenUse), { default: () => [] }),
  hunks: Schema.optionalWith(Schema.Array(HunkDetail), { default: () => [] })
}))
export type Details = typeof Details.Type

/** A `conflicts` row as SQLite returns it, decoded into a {@link StoredConflict}. */
const ConflictRow = Schema.transform(
  Schema.Struct({
    id: Schema.String,
    repo_path: Schema.String,
    path: Schema.String,
    ours_ref: Schema.String,
    ours_commit: Schema.String,
    theirs_ref: Schema.String,
    theirs_commit: Schema.String,
    merge_base: Schema.NullOr(Schema.String),
    source: Schema.Literal("refs", "worktree"),
    git_kind: GitKind,
    conflict_type: ConflictType,
    severity: Severity,
    language: Schema.String,
    analyzer: Schema.String,
    summary: Schema.String,
    details: Details,
    base_oid: Schema.NullOr(Schema.String),
    ours_oid: Schema.NullOr(Schema.String),
    theirs_oid: Schema.NullOr(Schema.String),
    worktree_path: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
    session_id: Schema.NullOr(Schema.String),
    detected_at: Iso,
    resolved_at: Schema.NullOr(Iso),
    resolution: Schema.NullOr(Schema.String)
  }),
  Schema.typeSchema(StoredConflict),
  {
    strict: true,
    decode: (r) => ({
      conflict: {
        id: r.id,
        repo: r.repo_path,
        path: r.path,
        ours: { ref: r.ours_ref, commit: r.ours_commit },
        theirs: { ref: r.theirs_ref, commit: r.theirs_commit },
        mergeBase: r.merge_base,
        source: r.source,
        gitKind: r.git_kind,
        type: r.conflict_type,
        severity: r.severity,
        language: r.language,
        analyzer: r.analyzer,
        summary: r.summary,
        reasons: r.details.reasons,
        symbols: r.details.symbols,
        regions: r.details.regions,
        guidance: r.details.guidance,
        hunks: r.details.hunks,
        worktree: r.worktree_path,
        sessionId: r.session_id,
        detectedAt: r.detected_at,
        resolvedAt: r.resolved_at,
        resolution: r.resolution
      },
      oids: { base: r.base_oid, ours: r.ours_oid, theirs: r.theirs_oid },
      brokenUses: r.details.brokenUses
    }),
    encode: ({ brokenUses, conflict: c, oids }) => ({
      id: c.id,
      repo_path: c.repo,
      path: c.path,
      ours_ref: c.ours.ref,
      ours_commit: c.ours.commit,
      theirs_ref: c.theirs.ref,
      theirs_commit: c.theirs.commit,
      merge_base: c.mergeBase,
      source: c.source,
      git_kind: c.gitKind,
      conflict_type: c.type,
      severity: c.severity,
      language: c.language,
      analyzer: c.analyzer,
      summary: c.summary,
      details: { reasons: c.reasons, symbols: c.symbols, regions: c.regions, guidance: c.guidance, brokenUses, hunks: c.hunks },
      base_oid: oids.base,
      ours_oid: oids.ours,
      theirs_oid: oids.theirs,
      worktree_path: c.worktree,
      session_id: c.sessionId,
      detected_at: c.detectedAt,
      resolved_at: c.resolvedAt,
      resolution: c.resolution
    })
  }
)

const dec = new TextDecoder()

/** A `conflict_suggestions` row joined with its conflict's path, decoded into a {@link Suggestion}. */
const SuggestionRow = Schema.transform(
  Schema.Struct({
    id: Schema.String,
    conflict_id: Schema.String,
    path: Schema.String,
    strategy: Strategy,
    confidence: Schema.Number,
    description: Schema.String,
    content: Schema.NullOr(Schema.Uint8ArrayFromSelf),
    is_binary: Bool,
    parses: Schema.NullOr(Bool),
    auto_apply: Schema.optionalWith(Bool, { default: () => false }),
    complete: Schema.optionalWith(Bool, { default: () => true }),
    hunks: Schema.optionalWith(Schema.parseJson(Schema.Array(HunkChoice)), { default: () => [] }),
    diff: Schema.String,
    worktree_path: Schema.NullOr(Schema.String),
    current_hash: Schema.String,
    created_at: Iso,
    applied_at: Schema.NullOr(Iso),
    applied_worktree: Schema.NullOr(Schema.String)
  }),
  Schema.typeSchema(Suggestion),
  {
    strict: true,
    decode: (r) => ({
      id: r.id,
      conflictId: r.conflict_id,
      path: r.path,
      strategy: r.strategy,
      confidence: r.confidence,
      description: r.description,
      parses: r.parses,
      autoApply: r.auto_apply,
      complete: r.complete,
      hunks: r.hunks,
      deletesFile: r.content === null,
      encoding: r.is_binary ? "base64" as const : "utf8" as const,
      resolvedContent: r.content === null ? null : r.is_binary ? Buffer.from(r.content).toString("base64") : dec.decode(r.content),
      diff: r.diff,
      currentHash: r.current_hash,
      worktree: r.worktree_path,
      createdAt: r.created_at,
      appliedAt: r.applied_at,
      appliedWorktree: r.applied_worktree
    }),
    encode: (s) => ({
      id: s.id,
      conflict_id: s.conflictId,
      path: s.path,
      strategy: s.strategy,
      confidence: s.confidence,
      description: s.description,
      content: contentOf(s),
      is_binary: s.encoding === "base64",
      parses: s.parses,
      auto_apply: s.autoApply,
      complete: s.complete,
      hunks: s.hunks,
      diff: s.diff,
      worktree_path: s.worktree,
      current_hash: s.currentHash,
      created_at: s.createdAt,
      applied_at: s.appliedAt,
      applied_worktree: s.appliedWorktree
    })
  }
)

/** The bytes of a suggestion's resolved file (null when it deletes the file). */
export const contentOf = (s: Suggestion): Uint8Array | null =>
  s.resolvedContent === null ? null : Buffer.from(s.resolvedContent, s.encoding === "base64" ? "base64" : "utf8")

// Rows are written through the same Schemas that read them (one definition of each row's shape).
const encodeConflictRow = Schema.encodeSync(ConflictRow)
const encodeSuggestionRow = Schema.encodeSync(SuggestionRow)

/** The `conflicts` row for a newly detected conflict. */
const conflictRowOf = (c: ConflictInput, now: number) => {
  const { details: { brokenUses, ...facts }, oids, ...fields } = c
  return encodeConflictRow({
    conflict: { ...fields, ...facts, id: newId("cf"), detectedAt: new Date(now).toISOString(), resolvedAt: null, resolution: null },
    oids,
    brokenUses
  })
}

/** The `conflict_suggestions` row for a new suggestion (`path` is its conflict's, read by a join). */
const suggestionRowOf = (id: string, conflictId: string, worktree: string | null, currentHash: string, s: SuggestionInput, now: number) => {
  const { path: _path, ...row } = encodeSuggestionRow({
    id,
    conflictId,
    path: "",
    strategy: s.strategy,
    confidence: s.confidence,
    description: s.description,
    parses: s.parses,
    autoApply: s.autoApply,
    complete: s.complete,
    hunks: s.hunks,
    deletesFile: s.content === null,
    encoding: s.binary ? "base64" : "utf8",
    resolvedContent: s.content === null ? null : Buffer.from(s.content).toString(s.binary ? "base64" : "utf8"),
    diff: s.diff,
    currentHash,
    worktree,
    createdAt: new Date(now).toISOString(),
    appliedAt: null,
    appliedWorktree: null
  })
  return row
}

const decodeConflicts = Schema.decodeUnknown(Schema.Array(ConflictRow))
const decodeSuggestions = Schema.decodeUnknown(Schema.Array(SuggestionRow))

/** What detection records for one file (the id and time are the store's). */
export interface ConflictInput {
  readonly repo: string
  readonly path: string
  readonly ours: { readonly ref: string; readonly commit: string }
  readonly theirs: { readonly ref: string; readonly commit: string }
  readonly mergeBase: string | null
  readonly source: "refs" | "worktree"
  readonly worktree: string | null
  readonly gitKind: GitKind
  readonly type: ConflictType
  readonly severity: Severity
  readonly language: string
  readonly analyzer: string
  readonly summary: string
  readonly details: Details
  readonly oids: StoredConflict["oids"]
  readonly sessionId: string | null
}

/** A suggestion as the engine proposes it, before it is stored. */
export interface SuggestionInput {
  readonly strategy: Strategy
  readonly confidence: number
  readonly description: string
  readonly content: Uint8Array | null
  readonly binary: boolean
  readonly parses: boolean | null
  readonly autoApply: boolean
  readonly complete: boolean
  readonly hunks: ReadonlyArray<HunkChoice>
  readonly diff: string
}

export interface ConflictFilter {
  readonly repo?: string | undefined
  readonly type?: ConflictType | undefined
  readonly resolved?: boolean | undefined
  readonly path?: string | undefined
  readonly limit?: number | undefined
}

export interface StoredSuggestionFilter {
  readonly repo?: string | undefined
  readonly conflictId?: string | undefined
  readonly minConfidence?: number | undefined
  readonly applied?: boolean | undefined
  /** With `applied: false`: only suggestions whose conflict is still open. */
  readonly openOnly?: boolean | undefined
  readonly limit?: number | undefined
}

export class ConflictStore extends Context.Tag("@parallel-cc/core/ConflictStore")<ConflictStore, {
  /** Record a classified conflict (one row per repository, pair of commits and path: re-detection updates it). */
  readonly record: (c: ConflictInput, now: number) => Effect.Effect<StoredConflict, DbFailure>
  readonly get: (id: string) => Effect.Effect<StoredConflict, ConflictNotFound | DbFailure>
  readonly list: (filter: ConflictFilter) => Effect.Effect<ReadonlyArray<StoredConflict>, DbFailure>
  /** Mark conflicts closed without a suggestion (resolved elsewhere, superseded, worktree gone), with why. */
  readonly close: (closed: ReadonlyArray<{ readonly id: string; readonly resolution: string }>, now: number) => Effect.Effect<void, DbFailure>
  /** Replace the unapplied suggestions of a conflict (for this worktree) with new ones. */
  readonly replaceSuggestions: (
    conflictId: string,
    worktree: string | null,
    currentHash: string,
    suggestions: ReadonlyArray<SuggestionInput>,
    now: number
  ) => Effect.Effect<ReadonlyArray<Suggestion>, DbFailure>
  readonly suggestion: (id: string) => Effect.Effect<Suggestion, ConflictNotFound | DbFailure>
  readonly suggestions: (filter: StoredSuggestionFilter) => Effect.Effect<ReadonlyArray<Suggestion>, DbFailure>
  /** Record that a suggestion was applied, and its conflict resolved by it. */
  readonly markApplied: (s: Suggestion, worktree: string, sessionId: string | null, now: number) => Effect.Effect<Suggestion, ConflictNotFound | DbFailure>
  /** Run `effect` in one BEGIN IMMEDIATE transaction. */
  readonly transaction: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E | DbFailure>
}>() {}

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
/** A random id with a prefix (`cf…` for conflicts, `sg…` for suggestions). */
export const newId = (prefix: string) => {
  const bytes = new Uint8Array(10)
  globalThis.crypto.getRandomValues(bytes)
  let id = prefix
  for (const b of bytes) id += alphabet[b % 36]
  return id
}

export const make = Effect.gen(function*() {
  const db = yield* Database
  const sql = db.sql
  const conflictRows = (effect: Effect.Effect<ReadonlyArray<unknown>, any>) =>
    db.orFail(effect).pipe(Effect.flatMap((r) => Effect.orDie(decodeConflicts(r))))
  const suggestionRows = (effect: Effect.Effect<ReadonlyArray<unknown>, any>) =>
    db.orFail(effect).pipe(Effect.flatMap((r) => Effect.orDie(decodeSuggestions(r))))

  const get = (id: string) =>
    conflictRows(sql`SELECT * FROM conflicts WHERE id = ${id}`).pipe(
      Effect.flatMap((r) => (r.length === 0 ? Effect.fail(new ConflictNotFound({ what: "conflict", id })) : Effect.succeed(r[0]!)))
    )

  const record = (c: ConflictInput, now: number) =>
    conflictRows(sql`
      INSERT INTO conflicts ${sql.insert(conflictRowOf(c, now))}
      ON CONFLICT (repo_path, ours_commit, theirs_commit, path) DO UPDATE SET
        source = excluded.source, git_kind = excluded.git_kind,
        conflict_type = excluded.conflict_type, severity = excluded.severity, language = excluded.language,
        analyzer = excluded.analyzer, summary = excluded.summary, details = excluded.details,
        base_oid = excluded.base_oid, ours_oid = excluded.ours_oid, theirs_oid = excluded.theirs_oid,
        worktree_path = excluded.worktree_path,
        session_id = COALESCE(excluded.session_id, conflicts.session_id), detected_at = excluded.detected_at,
        resolved_at = CASE WHEN conflicts.resolution LIKE 'stale:%' THEN NULL ELSE conflicts.resolved_at END,
        resolution = CASE WHEN conflicts.resolution LIKE 'stale:%' THEN NULL ELSE conflicts.resolution END
      RETURNING *`).pipe(Effect.map((r) => r[0]!))

  const list = (filter: ConflictFilter) => {
    const conds = [
      filter.repo !== undefined ? sql`repo_path = ${filter.repo}` : undefined,
      filter.type !== undefined ? sql`conflict_type = ${filter.type}` : undefined,
      filter.resolved === true ? sql`resolved_at IS NOT NULL` : filter.resolved === false ? sql`resolved_at IS NULL` : undefined,
      filter.path !== undefined ? sql`path = ${filter.path}` : undefined
    ].filter((c) => c !== undefined)
    return conflictRows(sql`SELECT * FROM conflicts WHERE ${sql.and(conds)} ORDER BY detected_at DESC, path LIMIT ${filter.limit ?? 100}`)
  }

  const close = (closed: ReadonlyArray<{ readonly id: string; readonly resolution: string }>, now: number) =>
    closed.length === 0 ? Effect.void : db.immediate(Effect.forEach(closed, (c) =>
      sql`UPDATE conflicts SET resolved_at = ${now}, resolution = ${c.resolution} WHERE id = ${c.id} AND resolved_at IS NULL`, { discard: true }))

  const suggestion = (id: string) =>
    suggestionRows(sql`SELECT s.*, c.path AS path FROM conflict_suggestions s JOIN conflicts c ON c.id = s.conflict_id WHERE s.id = ${id}`).pipe(
      Effect.flatMap((r) => (r.length === 0 ? Effect.fail(new ConflictNotFound({ what: "suggestion", id })) : Effect.succeed(r[0]!)))
    )

  const replaceSuggestions = (conflictId: string, worktree: string | null, currentHash: string, list: ReadonlyArray<SuggestionInput>, now: number) =>
    db.immediate(Effect.gen(function*() {
      yield* sql`DELETE FROM conflict_suggestions WHERE conflict_id = ${conflictId} AND applied_at IS NULL AND worktree_path IS ${worktree}`
      const ids: Array<string> = []
      for (const s of list) {
        const id = newId("sg")
        ids.push(id)
        yield* sql`INSERT INTO conflict_suggestions ${sql.insert(suggestionRowOf(id, conflictId, worktree, currentHash, s, now))}`
      }
      const rows = yield* suggestionRows(
        sql`SELECT s.*, c.path AS path FROM conflict_suggestions s JOIN conflicts c ON c.id = s.conflict_id WHERE ${sql.in("s.id", ids)}`
      )
      return ids.map((id) => rows.find((r) => r.id === id)!)
    }))

  const suggestions = (filter: StoredSuggestionFilter) => {
    const conds = [
      filter.repo !== undefined ? sql`c.repo_path = ${filter.repo}` : undefined,
      filter.conflictId !== undefined ? sql`s.conflict_id = ${filter.conflictId}` : undefined,
      filter.minConfidence !== undefined ? sql`s.confidence >= ${filter.minConfidence}` : undefined,
      filter.applied === true ? sql`s.applied_at IS NOT NULL` : filter.applied === false ? sql`s.applied_at IS NULL` : undefined,
      filter.openOnly === true ? sql`c.resolved_at IS NULL` : undefined
    ].filter((c) => c !== undefined)
    return suggestionRows(
      sql`SELECT s.*, c.path AS path FROM conflict_suggestions s JOIN conflicts c ON c.id = s.conflict_id
          WHERE ${sql.and(conds)} ORDER BY s.created_at DESC, s.confidence DESC LIMIT ${filter.limit ?? 100}`
    )
  }

  const markApplied = (s: Suggestion, worktree: string, sessionId: string | null, now: number) =>
    Effect.gen(function*() {
      yield* db.orFail(sql`UPDATE conflict_suggestions SET applied_at = ${now}, applied_worktree = ${worktree}, applied_by = ${sessionId} WHERE id = ${s.id}`)
      yield* db.orFail(sql`UPDATE conflicts SET resolved_at = ${now}, resolution = ${s.id} WHERE id = ${s.conflictId}`)
      return yield* suggestion(s.id)
    })

  return ConflictStore.of({
    record,
    get,
    list,
    close,
    replaceSuggestions,
    suggestion,
    suggestions,
    markApplied,
    transaction: (effect) => db.immediate(effect)
  })
})

/** The store over the Database. */
export const layer = Layer.effect(ConflictStore, make)
