// Every export of a public module (packages/{multidb,testkit}/src/*.ts, not internal/) has a JSDoc comment with a
// description, `@since` and `@category`: the API reference (TypeDoc) groups by category.
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const roots = ["packages/multidb/src", "packages/testkit/src"]
const problems = []
let checked = 0

const exported = (node) =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

for (const root of roots) {
  for (const file of fs.readdirSync(root).filter((f) => f.endsWith(".ts") && f !== "index.ts")) {
    const full = path.join(root, file)
    const source = ts.createSourceFile(full, fs.readFileSync(full, "utf8"), ts.ScriptTarget.Latest, true)
    for (const statement of source.statements) {
      if (!exported(statement) || ts.isExportDeclaration(statement)) continue
      const names = ts.isVariableStatement(statement)
        ? statement.declarationList.declarations.map((d) => d.name.getText(source).replace(/\s+/g, " "))
        : [statement.name?.getText(source) ?? "(default)"]
      checked += names.length
      const docs = ts
        .getJSDocCommentsAndTags(
          ts.isVariableStatement(statement) ? statement.declarationList.declarations[0] : statement
        )
        .filter(ts.isJSDoc)
      const doc = docs.at(-1)
      const tags = new Set((doc?.tags ?? []).map((t) => t.tagName.text))
      const missing = []
      if (doc === undefined || doc.comment === undefined || String(doc.comment).trim() === "")
        missing.push("a description")
      if (!tags.has("since")) missing.push("@since")
      if (!tags.has("category")) missing.push("@category")
      if (missing.length > 0) {
        const { line } = source.getLineAndCharacterOfPosition(statement.getStart(source))
        problems.push(`${full}:${line + 1} ${names.join(", ")}: no ${missing.join(", ")}`)
      }
    }
  }
}

if (problems.length > 0) {
  console.error(`${problems.length} of ${checked} exports lack documentation:\n  ${problems.join("\n  ")}`)
  process.exit(1)
}
console.log(`docs: all ${checked} exports of the public modules have a description, @since and @category`)
