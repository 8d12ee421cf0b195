import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import GithubSlugger from 'github-slugger';
import { Lexer, walkTokens, type Token, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';

// The docs promise things a reader will try: a link, an anchor, an `npm run` script, an
// environment variable. This checks each promise against the repository as it is.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SKIP_DIRS = new Set(['node_modules', '.git', '.data', 'coverage']);

function markdownFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return SKIP_DIRS.has(e.name) ? [] : markdownFiles(join(dir, e.name));
    return e.name.endsWith('.md') ? [join(dir, e.name)] : [];
  });
}

/** The text a heading shows, as GitHub slugs it: inline code and emphasis without their marks. */
function plainText(tokens: Token[] | undefined): string {
  return (tokens ?? []).map((t) => ('tokens' in t && t.tokens?.length ? plainText(t.tokens) : 'text' in t ? String(t.text) : '')).join('');
}

interface Doc {
  tokens: Token[];
  anchors: Set<string>;
  links: string[];
}

function parse(markdown: string): Doc {
  const tokens = new Lexer({ gfm: true }).lex(markdown);
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  const links: string[] = [];
  walkTokens(tokens, (t) => {
    if (t.type === 'heading') anchors.add(slugger.slug(plainText((t as Tokens.Heading).tokens)));
    if (t.type === 'link' || t.type === 'image') links.push((t as Tokens.Link | Tokens.Image).href);
  });
  return { tokens, anchors, links };
}

const docCache = new Map<string, Doc>();
const docAt = (path: string) => {
  let d = docCache.get(path);
  if (!d) docCache.set(path, (d = parse(readFileSync(path, 'utf8'))));
  return d;
};

/** Problems with one file's relative links: a missing file, or an anchor with no such heading. */
function brokenLinks(file: string, doc: Doc, read: (path: string) => Doc = docAt): string[] {
  const problems: string[] = [];
  for (const href of doc.links) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) continue; // https:, mailto:: not ours to check
    const [rawPath, anchor] = href.split('#', 2) as [string, string | undefined];
    const target = rawPath ? resolve(dirname(file), decodeURIComponent(rawPath)) : file;
    if (rawPath.startsWith('/')) {
      problems.push(`${href}: absolute path; use a relative link`);
    } else if (!existsSync(target)) {
      problems.push(`${href}: no such file (${relative(ROOT, target)})`);
    } else if (
      anchor !== undefined &&
      target.endsWith('.md') &&
      statSync(target).isFile() &&
      !read(target).anchors.has(decodeURIComponent(anchor))
    ) {
      problems.push(`${href}: no heading "#${anchor}" in ${relative(ROOT, target)}`);
    }
  }
  return problems;
}

const npmRunScripts = (markdown: string) => [...markdown.matchAll(/npm run ([a-z][\w:.-]*[\w])/g)].map((m) => m[1]);

const cellText = (cell: Tokens.TableCell) => plainText(cell.tokens).trim();

/** Every table whose first column is "variable": the configuration table, wherever it lives. */
function configTables(doc: Doc): string[][] {
  const tables: string[][] = [];
  walkTokens(doc.tokens, (t) => {
    if (t.type !== 'table') return;
    const table = t as Tokens.Table;
    if (cellText(table.header[0]) === 'variable') tables.push(table.rows.map((r) => cellText(r[0])));
  });
  return tables;
}

const envExampleVars = (text: string) => new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));

/** Environment variables the code reads: process.env.X, env.X / env['X'], and config.ts's get('X') / bool('X', …). */
function envReads(source: string): string[] {
  const names = [
    ...source.matchAll(/\b(?:process\.)?env\.([A-Z][A-Z0-9_]*)\b/g),
    ...source.matchAll(/\b(?:process\.)?env\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g),
    ...source.matchAll(/\b(?:get|bool)\(\s*['"`]([A-Z][A-Z0-9_]*)['"`]/g),
  ].map((m) => m[1]);
  // `for (const k of ['A', 'B']) … get(k)`: the names are in the list.
  for (const m of source.matchAll(/for \(const \w+ of \[([^\]]*)\]\)/g))
    names.push(...[...m[1].matchAll(/['"`]([A-Z][A-Z0-9_]*)['"`]/g)].map((n) => n[1]));
  return names;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const files = markdownFiles();
const rel = (f: string) => relative(ROOT, f);

describe('the checker itself', () => {
  it('finds a missing file, a missing anchor and an absolute path, and accepts good links', () => {
    const readme = join(ROOT, 'README.md');
    const doc = parse(
      '[ok](docs/slack.md) [here](#two-commands) ![img](docs/img/stage-report.png) [web](https://example.com) [gone](docs/nope.md) [bad anchor](docs/slack.md#no-such-heading) [abs](/etc/passwd)',
    );
    const problems = brokenLinks(readme, doc);
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/docs\/nope\.md: no such file/);
    expect(problems.join('\n')).toMatch(/no heading "#no-such-heading" in docs\/slack\.md/);
    expect(problems.join('\n')).toMatch(/\/etc\/passwd: absolute path/);
  });

  it('slugs headings as GitHub does, code and duplicates included', () => {
    const doc = parse('# A `b.c` d\n\n## Twice\n\n## Twice\n\n## CLI (break-glass, when chat is down)\n');
    expect([...doc.anchors]).toEqual(['a-bc-d', 'twice', 'twice-1', 'cli-break-glass-when-chat-is-down']);
  });

  it('reads env vars however config.ts and the rest of src read them', () => {
    const src = `process.env.NO_COLOR; env.LOG_FORMAT; env['X_Y']; get('PORT'); bool('ROLLOUT_CREATE_INDEX', true); for (const k of ['DATABASE_URL', 'METRICS_PORT']) get(k);`;
    expect(envReads(src).sort()).toEqual(['DATABASE_URL', 'LOG_FORMAT', 'METRICS_PORT', 'NO_COLOR', 'PORT', 'ROLLOUT_CREATE_INDEX', 'X_Y']);
  });
});

describe('the docs', () => {
  it('are found: README.md and docs/', () => {
    expect(files.map(rel)).toContain('README.md');
    expect(files.map(rel).filter((f) => f.startsWith('docs/')).length).toBeGreaterThan(5);
  });

  it.each(files.map((f) => [rel(f), f]))('%s: every relative link and image exists, anchors included', (_name, file) => {
    expect(brokenLinks(file, docAt(file))).toEqual([]);
  });

  it('name only npm scripts that package.json has', () => {
    const scripts = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts);
    const missing = files.flatMap((f) =>
      npmRunScripts(readFileSync(f, 'utf8'))
        .filter((s) => !scripts.includes(s))
        .map((s) => `${rel(f)}: npm run ${s}`),
    );
    expect(missing).toEqual([]);
  });

  it('have exactly one configuration table, and it matches .env.example both ways', () => {
    const tables = files.flatMap((f) => configTables(docAt(f)).map((vars) => ({ file: rel(f), vars })));
    expect(tables.map((t) => t.file)).toEqual(['docs/operations.md']);
    const table = tables[0].vars.map((v) => v.replace(/`/g, ''));
    const example = envExampleVars(readFileSync(join(ROOT, '.env.example'), 'utf8'));
    expect(table.filter((v) => !example.has(v))).toEqual([]);
    expect([...example].filter((v) => !table.includes(v))).toEqual([]);
  });

  it('.env.example lists every environment variable src/ reads', () => {
    const example = envExampleVars(readFileSync(join(ROOT, '.env.example'), 'utf8'));
    const reads = tsFiles(join(ROOT, 'src')).flatMap((f) => envReads(readFileSync(f, 'utf8')).map((v) => ({ v, file: rel(f) })));
    expect(reads.length).toBeGreaterThan(10);
    expect(reads.filter(({ v }) => !example.has(v)).map(({ v, file }) => `${v} (${file})`)).toEqual([]);
  });
});
