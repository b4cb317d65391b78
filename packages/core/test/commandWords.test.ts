import { assert, describe, it } from "@effect/vitest"
import { splitWords } from "../src/landing/commandWords.js"

describe("commandWords.splitWords (a test command as words, never given to a shell)", () => {
  it("splits like a shell: quotes, escapes, runs of blanks", () => {
    const ok = (line: string, argv: readonly [string, ...Array<string>]) => assert.deepStrictEqual(splitWords(line), { argv }, line)
    ok("npm test", ["npm", "test"])
    ok("  npm   run  test:unit -- --run ", ["npm", "run", "test:unit", "--", "--run"])
    ok(`vitest run -t 'adds two numbers'`, ["vitest", "run", "-t", "adds two numbers"])
    ok(`node -e "console.log(\\"hi\\")"`, ["node", "-e", `console.log("hi")`])
    ok(`echo a\\ b 'it''s' ""`, ["echo", "a b", "its", ""])
    ok(`sh -c 'npm run lint && npm test'`, ["sh", "-c", "npm run lint && npm test"])
    ok("pytest tests/*.py", ["pytest", "tests/*.py"])
  })

  it("refuses what would need a shell, saying why", () => {
    const refused = (line: string, why: RegExp) => {
      const r = splitWords(line)
      assert.isTrue("error" in r, line)
      if ("error" in r) assert.match(r.error, why, line)
    }
    refused("npm test && npm run lint", /"&" is shell syntax/)
    refused("npm test | tee log", /"\|" is shell syntax/)
    refused("npm test > out", /">" is shell syntax/)
    refused("echo $HOME", /variable or substitution/)
    refused(`echo "$(id)"`, /inside double quotes/)
    refused("echo `id`", /shell syntax/)
    refused("~/bin/test", /"~"/)
    refused("npm test\nrm -rf /", /line break/)
    refused("echo 'open", /single quote is not closed/)
    refused("   ", /empty/)
  })
})
