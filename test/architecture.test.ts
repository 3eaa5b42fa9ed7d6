/**
 * The import rules of docs/DEVELOPERS.md ("Layout"), checked on every .ts file: the TypeScript
 * parser lists each file's imports (static, type-only, re-exports and dynamic `import()`), and
 * every rule below names the edges it forbids. A broken rule fails with the file and the import.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const SCANNED = ['src', 'activities', 'workflows', 'test', 'bench', 'scripts', 'pipelines'];

interface Import {
  /** Importing file, relative to the repository root with `/`. */
  from: string;
  /** A repository path (`src/core/plan.ts`) for a relative import, else the bare specifier. */
  to: string;
  typeOnly: boolean;
}

/** The module specifiers a source text imports, in order. */
function importsOf(source: string): { spec: string; typeOnly: boolean }[] {
  const sf = ts.createSourceFile('x.ts', source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: { spec: string; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ spec: node.moduleSpecifier.text, typeOnly: node.importClause?.isTypeOnly ?? false });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ spec: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) out.push({ spec: arg.text, typeOnly: false });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push({ spec: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** A path with `/` separators, whatever the platform. */
const slashed = (p: string): string => p.split('\\').join('/');

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.parentPath.includes('node_modules') && !e.parentPath.includes('fixtures'))
    .map((e) => slashed(relative(ROOT, join(e.parentPath, e.name))));
}

function allImports(): Import[] {
  return SCANNED.flatMap((dir) =>
    tsFiles(dir).flatMap((from) =>
      importsOf(readFileSync(join(ROOT, from), 'utf8')).map(({ spec, typeOnly }) => ({
        from,
        to: spec.startsWith('.') ? slashed(normalize(join(dirname(from), spec))) : spec,
        typeOnly,
      })),
    ),
  );
}

const isNode = (to: string): boolean => to.startsWith('node:') || builtinModules.includes(to.split('/')[0] ?? '');
/** A module of this repository (a relative import), not a package. */
const isLocal = (to: string): boolean => /^(src|activities|workflows|test|bench|scripts|pipelines|bin)\//.test(to);
const under = (path: string, ...dirs: string[]): boolean => dirs.some((d) => path === d || path.startsWith(`${d}/`));

interface Rule {
  name: string;
  /** True when `i` breaks the rule. */
  breaks: (i: Import) => boolean;
}

/** Pure packages the workflow-safe core may use (the workflow bundle runs them in its sandbox). */
// @stdlib's erf/erfc: the TPE's truncated normals (src/core/search/truncnorm.ts).
const CORE_PACKAGES = ['@marcbachmann/cel-js', '@stdlib/math-base-special-erf', '@stdlib/math-base-special-erfc'];
const SERVICES = ['src/ml', 'src/artifacts', 'src/serving', 'src/temporal', 'src/schedules', 'src/db'];

const RULES: Rule[] = [
  {
    name: 'src/core imports only src/core and pure packages (no node:, no I/O)',
    breaks: (i) => under(i.from, 'src/core') && (isNode(i.to) || (!under(i.to, 'src/core') && !CORE_PACKAGES.includes(i.to))),
  },
  {
    name: 'workflows/ imports only workflows/, src/core, @temporalio/workflow and @temporalio/common',
    breaks: (i) =>
      under(i.from, 'workflows') && !under(i.to, 'workflows', 'src/core') && !['@temporalio/workflow', '@temporalio/common'].includes(i.to),
  },
  { name: 'src/spec does not import src/compiler', breaks: (i) => under(i.from, 'src/spec') && under(i.to, 'src/compiler') },
  {
    // tests and scripts are entry points (like bin/): they may drive the CLI's modules
    name: 'nothing but bin/ imports src/cli',
    breaks: (i) => !under(i.from, 'src/cli', 'test', 'scripts') && under(i.to, 'src/cli'),
  },
  {
    name: `${SERVICES.join(', ')} do not import activities/ or src/cli`,
    breaks: (i) => under(i.from, ...SERVICES) && under(i.to, 'activities', 'src/cli'),
  },
  {
    name: 'activities/ do not import src/cli or workflows/',
    breaks: (i) => under(i.from, 'activities') && under(i.to, 'src/cli', 'workflows'),
  },
  {
    // src/redaction.ts: a password in MLPIPE_DB becomes a secret the worker redacts.
    name: 'src/db imports nothing of mlpipe but src/db, src/home.ts and src/redaction.ts',
    breaks: (i) =>
      under(i.from, 'src/db') && isLocal(i.to) && !under(i.to, 'src/db') && !['src/home.ts', 'src/redaction.ts'].includes(i.to),
  },
];

const broken = (imports: Import[]): string[] =>
  RULES.flatMap((r) => imports.filter(r.breaks).map((i) => `${r.name}: ${i.from} imports ${i.to}`));

describe('import rules (docs/DEVELOPERS.md)', () => {
  it('the scanner finds every form of import', () => {
    const found = importsOf(`
      import a from 'node:fs';
      import type { B } from '../src/core/plan.ts';
      import './side-effect.ts';
      export { c } from './c.ts';
      export * from './d.ts';
      const e = await import('../activities/e.ts');
      type F = import('./f.ts').F;
      // import g from 'not-an-import';
    `);
    expect(found).toEqual([
      { spec: 'node:fs', typeOnly: false },
      { spec: '../src/core/plan.ts', typeOnly: true },
      { spec: './side-effect.ts', typeOnly: false },
      { spec: './c.ts', typeOnly: false },
      { spec: './d.ts', typeOnly: false },
      { spec: '../activities/e.ts', typeOnly: false },
      { spec: './f.ts', typeOnly: true },
    ]);
  });

  it('the rules catch a broken edge', () => {
    const bad: Import[] = [
      { from: 'src/core/plan.ts', to: 'node:crypto', typeOnly: false },
      { from: 'src/core/expr.ts', to: 'src/compiler/compile.ts', typeOnly: false },
      { from: 'workflows/pipeline.ts', to: 'src/artifacts/store.ts', typeOnly: true },
      { from: 'src/spec/semantic.ts', to: 'src/compiler/plan.ts', typeOnly: true },
      { from: 'src/compiler/compile.ts', to: 'src/cli/options.ts', typeOnly: false },
      { from: 'src/temporal/worker.ts', to: 'activities/index.ts', typeOnly: false },
      { from: 'activities/index.ts', to: 'workflows/api.ts', typeOnly: false },
      { from: 'src/db/index.ts', to: 'src/core/plan.ts', typeOnly: true },
    ];
    expect(bad.map((i) => RULES.some((r) => r.breaks(i)))).toEqual(bad.map(() => true));
    const fine: Import[] = [
      { from: 'src/core/expr.ts', to: '@marcbachmann/cel-js', typeOnly: false },
      { from: 'workflows/pipeline.ts', to: 'src/core/plan.ts', typeOnly: false },
      { from: 'src/compiler/compile.ts', to: 'src/spec/semantic.ts', typeOnly: false },
      { from: 'test/cli/x.test.ts', to: 'src/cli/main.ts', typeOnly: false },
      { from: 'src/db/index.ts', to: 'src/home.ts', typeOnly: false },
      { from: 'src/db/index.ts', to: 'src/redaction.ts', typeOnly: false },
      { from: 'src/db/sqlite.ts', to: 'better-sqlite3', typeOnly: false },
    ];
    expect(broken(fine)).toEqual([]);
  });

  it('every .ts file keeps the rules', () => {
    const imports = allImports();
    expect(imports.length).toBeGreaterThan(500); // the scan reached the tree
    expect(imports.some((i) => i.from === 'workflows/stage-runner.ts' && i.to === 'src/core/plan.ts')).toBe(true);
    expect(broken(imports)).toEqual([]);
  });
});
