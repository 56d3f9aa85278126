import { SchemaAST as AST, Option, ParseResult } from "effect"
import { mask } from "../FailureCause.js"

/** One problem of a configuration: where (`databases[1].weight`) and what. */
export interface Problem {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/** `databases[1].weight` */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((out, key) => {
    if (typeof key === "number") return `${out}[${key}]`
    const name = String(key)
    if (!/^[A-Za-z_$][\w$]*$/.test(name)) return `${out}[${JSON.stringify(name)}]`
    return out === "" ? name : `${out}.${name}`
  }, "")

/** A value as a message shows it: strings quoted, credentials masked and cut short; objects only by their kind. */
export const showValue = (value: unknown): string => {
  if (typeof value === "string") {
    const short = value.length > 80 ? `${value.slice(0, 77)}...` : value
    return `"${mask(short)}"`
  }
  if (value === null || value === undefined || typeof value !== "object") return String(value)
  if (Array.isArray(value)) return "a list"
  return "an object"
}

const levenshtein = (a: string, b: string): number => {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

/** The known name closest to `name`, if it is close enough to be a likely misspelling. */
export const nearest = (name: string, known: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const candidate of known) {
    const distance = levenshtein(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

const unknownKey = (key: PropertyKey, known: ReadonlyArray<string>) => {
  const suggestion = typeof key === "string" ? nearest(key, known) : undefined
  return suggestion === undefined
    ? `unknown option (known: ${known.join(", ")})`
    : `unknown option, did you mean "${suggestion}"?`
}

const isUndefinedMember = (issue: ParseResult.ParseIssue) => issue._tag === "Type" && AST.isUndefinedKeyword(issue.ast)

const describe = (ast: AST.AST): string => {
  const description = AST.getDescriptionAnnotation(ast)
  if (Option.isSome(description)) return description.value
  switch (ast._tag) {
    case "NumberKeyword":
      return "a number"
    case "StringKeyword":
      return "a string"
    case "BooleanKeyword":
      return "a boolean"
    case "Literal":
      return JSON.stringify(ast.literal)
    case "Union": {
      const members = ast.types.filter((t) => !AST.isUndefinedKeyword(t))
      if (members.every(AST.isLiteral)) return `one of ${members.map(describe).join(", ")}`
      return members.map(describe).join(" or ")
    }
    case "TupleType":
      return "a list"
    case "TypeLiteral":
      return "an object"
    case "Refinement":
      return describe(ast.from)
    case "Transformation":
      return describe(ast.from)
    default:
      return String(ast)
  }
}

/** The problems of a parse issue, each with its path and a short message; every value shown has credentials masked. */
export const problems = (issue: ParseResult.ParseIssue): ReadonlyArray<Problem> => {
  const out: Array<Problem> = []
  const leaf = (path: ReadonlyArray<PropertyKey>, message: string) => {
    const masked = mask(message)
    if (!out.some((p) => formatPath(p.path) === formatPath(path) && p.message === masked)) {
      out.push({ path, message: masked })
    }
  }
  const expected = (path: ReadonlyArray<PropertyKey>, ast: AST.AST, actual: unknown) =>
    leaf(path, `expected ${describe(ast)}, got ${showValue(actual)}`)
  const walk = (current: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>, known: ReadonlyArray<string>) => {
    switch (current._tag) {
      case "Pointer":
        return walk(current.issue, [...path, ...(Array.isArray(current.path) ? current.path : [current.path])], known)
      case "Composite": {
        const issues = Array.isArray(current.issues) ? current.issues : [current.issues as ParseResult.ParseIssue]
        if (AST.isUnion(current.ast)) {
          const members = issues.filter((i) => !isUndefinedMember(i))
          if (members.length === 1) return walk(members[0]!, path, known)
          return expected(path, current.ast, current.actual)
        }
        const keys = AST.isTypeLiteral(current.ast) ? current.ast.propertySignatures.map((p) => String(p.name)) : known
        for (const inner of issues) walk(inner, path, keys)
        return
      }
      case "Refinement":
        if (current.kind === "From" && Option.isSome(AST.getDescriptionAnnotation(current.ast))) {
          const inner = current.issue
          // a failure of the refined schema's own structure (inside a list or object) is reported where it happens
          if (inner._tag === "Type" || (inner._tag === "Composite" && AST.isUnion(inner.ast))) {
            return expected(path, current.ast, current.actual)
          }
        }
        return walk(current.issue, path, known)
      case "Transformation":
        if (current.kind === "Encoded" && Option.isSome(AST.getDescriptionAnnotation(current.ast))) {
          return expected(path, current.ast, current.actual)
        }
        return walk(current.issue, path, known)
      case "Type":
        if (isUndefinedMember(current)) return
        return current.message !== undefined ? leaf(path, current.message) : expected(path, current.ast, current.actual)
      case "Missing": {
        const last = path[path.length - 1]
        // a missing first element of a non-empty list: the list is empty
        if (typeof last === "number") return leaf(path.slice(0, -1), `expected at least ${last + 1} item(s)`)
        return leaf(path, "is required")
      }
      case "Unexpected":
        return leaf(path, unknownKey(path[path.length - 1] ?? "", known))
      case "Forbidden":
        return leaf(path, current.message ?? "cannot be checked synchronously")
    }
  }
  walk(issue, [], [])
  return out
}

/** The problems as lines: `databases[1].weight: expected a number ≥ 0, got "x"`. */
export const formatProblems = (list: ReadonlyArray<Problem>): string =>
  list.length === 0
    ? "invalid configuration"
    : list.map((p) => (p.path.length === 0 ? p.message : `${formatPath(p.path)}: ${p.message}`)).join("\n")

/**
 * A `ParseError` whose message is the short list of problems, one per line, and whose issue holds only those problems
 * (paths and masked messages, never the input), so printing or logging it shows no credentials.
 */
export class ConfigParseError extends ParseResult.ParseError {
  override toString() {
    return formatProblems(problems(this.issue))
  }
}

/** Rebuilds a `ParseError` as a `ConfigParseError`: short, path-first messages with credentials masked. */
export const simplify = (error: ParseResult.ParseError): ParseResult.ParseError => {
  if (error instanceof ConfigParseError) return error
  const ast: AST.AST = "ast" in error.issue ? (error.issue.ast as AST.AST) : AST.unknownKeyword
  const list = problems(error.issue)
  const leaves = list.map((p): ParseResult.ParseIssue => {
    const type = new ParseResult.Type(ast, undefined, p.message)
    return p.path.length === 0
      ? type
      : new ParseResult.Pointer(p.path as [PropertyKey, ...Array<PropertyKey>], undefined, type)
  })
  const issue =
    leaves.length === 0
      ? new ParseResult.Type(ast, undefined, "invalid configuration")
      : new ParseResult.Composite(ast, undefined, leaves as [ParseResult.ParseIssue, ...Array<ParseResult.ParseIssue>])
  return new ConfigParseError({ issue })
}
