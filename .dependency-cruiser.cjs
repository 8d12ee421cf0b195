/**
 * The layering of docs/code-map.md, written as rules (npm run depcruise; CI runs it). From the
 * bottom: plan → core → db and render → engine → front ends (slack/, cli/, adapters/ with the
 * console) → wiring (app.ts, main.ts, demo/). Type-only imports count: a type is a dependency too.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No file-level import cycle, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'plan-is-pure',
      comment: 'The plan validates a value: it imports only itself (reading the plan file happens in config.ts).',
      severity: 'error',
      from: { path: '^src/plan/' },
      to: { path: '^src/', pathNot: '^src/plan/' },
    },
    {
      name: 'core-imports-only-core-and-plan',
      comment: 'The pure core: state machine, red lines, statistics, events, views. No I/O and nothing above it.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/(core|plan)/' },
    },
    {
      name: 'pure-layers-do-no-io',
      comment:
        'plan/ and core/ touch no file, socket or process: no Node built-ins. One exception: the distributions ' +
        'defer loading stdlib (some 360 modules) with node:module until the first comparison, which is module ' +
        'loading, not I/O, and keeps it off every start.',
      severity: 'error',
      from: { path: '^src/(core|plan)/' },
      to: { dependencyTypes: ['core'], pathNot: '^module$' },
    },
    {
      name: 'only-the-distributions-defer-loading',
      comment: 'node:module in the pure layers is for deferring stdlib in the distributions, nowhere else.',
      severity: 'error',
      from: { path: '^src/(core|plan)/', pathNot: '^src/core/compare/distributions[.]ts$' },
      to: { dependencyTypes: ['core'], path: '^module$' },
    },
    {
      name: 'db-and-render-below-the-engine',
      comment: 'Queries and renderers never import the engine or anything above it.',
      severity: 'error',
      from: { path: '^src/(db|render)/' },
      to: { path: '^src/(engine|adapters|slack|cli|demo)/|^src/(app|main|config)[.]ts$' },
    },
    {
      name: 'render-reads-no-database',
      comment: 'Renderers turn values into words, Block Kit and chart specs; they never query.',
      severity: 'error',
      from: { path: '^src/render/' },
      to: { path: '^src/db/' },
    },
    {
      name: 'engine-below-front-ends',
      comment: 'The engine owns its ports (engine/ports.ts); adapters and front ends implement them, app.ts wires them.',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/(adapters|slack|cli|demo)/|^src/(app|main|config)[.]ts$' },
    },
    {
      name: 'front-ends-ask-the-engine',
      comment:
        "Front ends (Slack, the CLI, the console and the other adapters) never read or write the database: they ask the engine. The one exception is Slack's own tables, behind slack/store.ts.",
      severity: 'error',
      from: { path: '^src/(slack|cli|adapters)/', pathNot: '^src/slack/store[.]ts$' },
      to: { path: '^src/db/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
