/**
 * The session slug: a name unique to one session, safe as a Docker Compose project name, a container or
 * network name prefix and a database name (lowercase letters, digits and `_`, at most 40 characters) —
 * the repository folder's name and the session id. Exported to agents as PARALLEL_CC_SLUG and
 * COMPOSE_PROJECT_NAME, so that parallel `docker compose up` stacks and per-session databases do not
 * collide.
 */

/** `<repository folder, lowercased, other characters as _, at most 24>_<session id>`. */
export const sessionSlug = (repoPath: string, sessionId: string): string => {
  const base = repoPath.replace(/\/+$/, "").split("/").pop() ?? ""
  const clean = base.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 24).replace(/_+$/, "")
  return `${clean === "" ? "repo" : clean}_${sessionId.toLowerCase()}`
}
