import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as Egress from "../src/sandboxes/EgressPolicy.js"

const rule = (text: string) => Either.getOrThrow(Egress.parseHost(text))

describe("EgressPolicy", () => {
  it("parses HOST[:PORT], *.DOMAIN and addresses, and says what is wrong with the rest", () => {
    assert.deepStrictEqual(rule("Registry.NPMjs.org."), { host: "registry.npmjs.org", port: undefined })
    assert.deepStrictEqual(rule("*.example.com:8443"), { host: "*.example.com", port: 8443 })
    assert.deepStrictEqual(rule("127.0.0.1:3000"), { host: "127.0.0.1", port: 3000 })
    assert.deepStrictEqual(rule("[::1]:8080"), { host: "[::1]", port: 8080 })
    for (const bad of ["", "http://x.com", "x.com:0", "x.com:70000", "*.1.2.3.4", "bad_host", "-x.com", "a b"]) {
      assert.isTrue(Either.isLeft(Egress.parseHost(bad)), bad)
    }
  })

  it("a rule without a port allows 80 and 443; a wildcard allows subdomains, not the domain itself", () => {
    const rules = ["api.anthropic.com", "*.example.com", "localhost:8080"].map(rule)
    assert.isTrue(Egress.allowed(rules, "api.anthropic.com", 443))
    assert.isTrue(Egress.allowed(rules, "API.anthropic.com.", 80))
    assert.isFalse(Egress.allowed(rules, "api.anthropic.com", 22))
    assert.isFalse(Egress.allowed(rules, "evil-api.anthropic.com", 443))
    assert.isTrue(Egress.allowed(rules, "a.b.example.com", 443))
    assert.isFalse(Egress.allowed(rules, "example.com", 443))
    assert.isFalse(Egress.allowed(rules, "notexample.com", 443))
    assert.isTrue(Egress.allowed(rules, "localhost", 8080))
    assert.isFalse(Egress.allowed(rules, "localhost", 8081))
    assert.isTrue(Egress.isLoopback(rule("127.0.0.1:5432")))
    assert.isFalse(Egress.isLoopback(rule("db.internal:5432")))
  })

  it("the defaults: the agent's API, its base URL's endpoint, the registries the repository's files point to", () => {
    const d = Egress.defaults({
      agent: "claude",
      env: { ANTHROPIC_BASE_URL: "http://127.0.0.1:4010/v1", OPENAI_BASE_URL: "" },
      topLevel: ["package.json", "yarn.lock", "pyproject.toml", "README.md"],
      npmrc: "registry=https://npm.internal.example/\n",
      npmRegistry: "https://registry.example.org/"
    })
    for (const h of ["api.anthropic.com", "127.0.0.1:4010", "registry.npmjs.org", "registry.yarnpkg.com", "pypi.org", "files.pythonhosted.org", "npm.internal.example:443", "registry.example.org:443"]) {
      assert.include(d, h)
    }
    assert.notInclude(d, "crates.io")
    assert.deepStrictEqual(Egress.defaults({ agent: "custom", env: {}, topLevel: [] }), [])
    assert.includeMembers([...Egress.defaults({ agent: "codex", env: {}, topLevel: ["go.mod"] })], ["api.openai.com", "proxy.golang.org"])
  })
})
