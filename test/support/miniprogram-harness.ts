/**
 * Drives a compiled Taro mini-program bundle (`dist/weapp` or `dist/tt`) in plain Node, without
 * WeChat's or Douyin's developer tools.
 *
 * The harness plays the mini-program framework: it supplies `App`, `Page`, `Component`,
 * `getApp`, `getCurrentPages` to the bundle (the caller supplies the platform global, `wx` or
 * `tt`), runs `app.js` and the page script, creates the page instance, applies Taro's `setData`
 * path patches to `page.data`, and fires taps through the page's `eh` handler the way the
 * platform's templates would. Tag and attribute names come from the bundle's own templates
 * (`base.wxml` / `base.ttml`), so it tracks Taro's aliases.
 *
 * It builds nothing: build first, e.g.
 *   CHECKOUT_API_BASE_URL=http://127.0.0.1:3000 npx taro build --type weapp
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export type MiniProgramPlatform = 'weapp' | 'tt';

/** What differs between the platforms' build outputs, as far as the harness is concerned. */
const PLATFORM_OUTPUT: Record<MiniProgramPlatform, { globalName: string; baseTemplate: string }> = {
  weapp: { globalName: 'wx', baseTemplate: 'base.wxml' },
  tt: { globalName: 'tt', baseTemplate: 'base.ttml' },
};

export interface LoadMiniProgramPageOptions {
  platform: MiniProgramPlatform;
  /** The build output, e.g. `dist/weapp`. */
  distDir: string;
  /**
   * The platform global the bundle talks to (`wx`: see `createWxDouble`; `tt`: see
   * `createTtDouble`). Must hold every API before loading.
   */
  platformApi: Record<string, unknown>;
  /** @default the first page of app.json */
  pagePath?: string;
  /**
   * Page query, passed to `onLoad`. @default the query of the platform double's
   * `getLaunchOptionsSync()` (see `createWxDouble({launch})`), or {}
   */
  query?: Record<string, string>;
  /** How long to wait for the first render. @default 5000 */
  firstRenderTimeoutMs?: number;
}

/** A rendered element, read from the page data. */
export interface RenderedElement {
  /** Taro's internal node id. */
  sid: string;
  /** The `id` given in JSX, if any. */
  id?: string;
  /** The native tag, e.g. `button`, `view`, `text`. */
  tag: string;
  className: string;
  /** Native attributes by their WXML name, e.g. `disabled`, `type`. */
  attributes: Record<string, unknown>;
  /** Text content of the element and its descendants. */
  text: string;
}

export type LoadWeappPageOptions = Omit<LoadMiniProgramPageOptions, 'platform' | 'platformApi'> & {
  wx: Record<string, unknown>;
};

export type LoadTtPageOptions = Omit<LoadMiniProgramPageOptions, 'platform' | 'platformApi'> & {
  tt: Record<string, unknown>;
};

export interface MiniProgramPage {
  /** The page instance the framework would hold: `data`, `setData`, lifecycles, `eh`. */
  page: MiniProgramPageInstance;
  /** The visible text of the whole page; elements on separate lines. */
  text(): string;
  findById(id: string): RenderedElement | undefined;
  /** Elements whose text matches, innermost first. */
  findAllByText(pattern: RegExp | string): RenderedElement[];
  /** Taps the element with this JSX `id`. Like WeChat, a disabled `<button>` still receives taps. */
  tapById(id: string): void;
  /** Taps the innermost element whose text matches. */
  tapByText(pattern: RegExp | string): void;
  /** Resolves with the page text once it matches; rejects with the last text after `timeoutMs`. */
  waitForText(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /**
   * Resolves once `predicate` holds, checked after every render and every few milliseconds (for
   * conditions outside the page, such as a double's records); rejects after `timeoutMs`.
   */
  waitFor(predicate: () => boolean, timeoutMs?: number, description?: string): Promise<void>;
  /** Fires `onHide`, as when a payment sheet or another app covers the page. */
  hide(): void;
  /** Fires `onShow`, as when the shopper comes back to the page. */
  show(): void;
  /** Fires `onHide` then `onUnload`. */
  unload(): void;
  /**
   * Fires a non-tap event (`error`, `launchapp`, …) on the element with this JSX `id`, as the
   * platform does, e.g. `binderror` of an `open-type="launchApp"` button WeChat refused. The
   * element's template must bind it. No bubbling: these events do not bubble.
   */
  trigger(id: string, type: string, detail?: Record<string, unknown>): void;
  /**
   * The shopper leaves the mini-program and enters it again through `entry.scene` (a hot start):
   * page `onHide`, App `onHide`, the double's `setEnterOptions(entry)` when it has one, App
   * `onShow(entry)`, page `onShow`.
   */
  reenter(entry: { scene: number | string; query?: Record<string, string> }): void;
}

export type WeappPage = MiniProgramPage;
export type WeappPageInstance = MiniProgramPageInstance;

export interface MiniProgramPageInstance {
  route: string;
  data: { root: DataNode };
  options: Record<string, string>;
  setData(patch: Record<string, unknown>, callback?: () => void): void;
  eh(event: unknown): unknown;
  onLoad(query: Record<string, string>): void;
  onShow(): void;
  onReady(): void;
  onHide(): void;
  onUnload(): void;
}

/** Taro's page data: elements have `nn` (template number) and `cn` (children); text nodes have `v`. */
interface DataNode {
  sid?: string;
  uid?: string;
  nn?: string | number;
  cn?: DataNode[];
  cl?: string;
  v?: string;
  [alias: string]: unknown;
}

interface TemplateInfo {
  tag: string;
  /** Data alias (e.g. `p2`) → WXML attribute (e.g. `disabled`). */
  attributeByAlias: Record<string, string>;
  /** Event types bound to Taro's handler (`bindtap="eh"` → `tap`). */
  events: Set<string>;
}

/** What App `onLaunch` / `onShow` receive and `getLaunchOptionsSync` returns. */
export interface LaunchOptions {
  path: string;
  query: Record<string, string>;
  scene: number | string;
}

/** When the platform double has no `getLaunchOptionsSync`: opened from WeChat's Discover list. */
const DEFAULT_SCENE = 1001;

type FrameworkConfig = Record<string, unknown>;

const DEFAULT_TIMEOUT_MS = 5000;
const POLL_INTERVAL_MS = 20;

/** Keys of a data node that are Taro's bookkeeping (ids, class, style), not native attributes. */
const NODE_BOOKKEEPING_KEYS = new Set(['sid', 'uid', 'cl', 'st', 'nn', 'cn', 'v']);

export function loadWeappPage({ wx, ...options }: LoadWeappPageOptions): Promise<MiniProgramPage> {
  return loadMiniProgramPage({ ...options, platform: 'weapp', platformApi: wx });
}

export function loadTtPage({ tt, ...options }: LoadTtPageOptions): Promise<MiniProgramPage> {
  return loadMiniProgramPage({ ...options, platform: 'tt', platformApi: tt });
}

export async function loadMiniProgramPage(options: LoadMiniProgramPageOptions): Promise<MiniProgramPage> {
  const { globalName, baseTemplate } = PLATFORM_OUTPUT[options.platform];
  const distDir = resolve(options.distDir);
  const appJsonPath = join(distDir, 'app.json');
  const baseTemplatePath = join(distDir, baseTemplate);
  if (!existsSync(appJsonPath) || !existsSync(baseTemplatePath)) {
    throw new Error(
      `No ${options.platform} build in ${distDir}: run \`npx taro build --type ${options.platform}\` first`,
    );
  }
  const appJson = JSON.parse(readFileSync(appJsonPath, 'utf8')) as { pages: string[] };
  const pagePath = options.pagePath ?? appJson.pages[0];
  const templates = readTemplates(baseTemplatePath);

  let appInstance: FrameworkConfig | undefined;
  let registeringPage: string | undefined;
  const pageConfigs = new Map<string, FrameworkConfig>();
  const pageStack: MiniProgramPageInstance[] = [];

  const framework = {
    [globalName]: options.platformApi,
    App(config: FrameworkConfig) {
      appInstance = config;
    },
    Page(config: FrameworkConfig) {
      if (!registeringPage) throw new Error('Page() called outside a page script');
      pageConfigs.set(registeringPage, config);
    },
    Component() {
      // Taro registers its recursion component here; page data is complete without it.
    },
    Behavior: (definition: unknown) => definition,
    getApp: () => appInstance,
    getCurrentPages: () => [...pageStack],
    requirePlugin: (name: string) => {
      throw new Error(`requirePlugin(${name}) is not available in the harness`);
    },
  };

  const launch = readLaunchOptions(options.platformApi, pagePath);
  const pageQuery = options.query ?? launch.query;
  const loadScript = createScriptLoader(framework);
  loadScript(join(distDir, 'app.js'));
  if (!appInstance) throw new Error('app.js did not call App()');
  const app = appInstance;
  callLifecycle(app, 'onLaunch', launch);
  callLifecycle(app, 'onShow', launch);

  registeringPage = pagePath;
  loadScript(join(distDir, `${pagePath}.js`));
  registeringPage = undefined;
  const pageConfig = pageConfigs.get(pagePath);
  if (!pageConfig) throw new Error(`${pagePath}.js did not call Page()`);

  const renderListeners = new Set<() => void>();
  const page = createPageInstance(pageConfig, pagePath, pageQuery, () =>
    renderListeners.forEach((listener) => listener()),
  );
  pageStack.push(page);

  const reenter = (entry: { scene: number | string; query?: Record<string, string> }) => {
    const entered: LaunchOptions = { path: pagePath, query: entry.query ?? {}, scene: entry.scene };
    page.onHide();
    callLifecycle(app, 'onHide', undefined);
    const setEnterOptions = options.platformApi.setEnterOptions;
    if (typeof setEnterOptions === 'function') setEnterOptions(entered);
    callLifecycle(app, 'onShow', entered);
    page.onShow();
  };
  const handle = createPageHandle(page, templates, renderListeners, reenter);
  page.onLoad(page.options);
  page.onShow();
  page.onReady();
  await handle.waitFor(
    () => (page.data.root.cn ?? []).length > 0,
    options.firstRenderTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    'the first render',
  );
  return handle;
}

/**
 * Runs bundle files as CommonJS modules whose free variables `wx` / `tt`, `App`, `Page`, …
 * resolve to the harness's framework rather than to real globals, so several pages can load
 * side by side.
 */
function createScriptLoader(framework: Record<string, unknown>): (file: string) => unknown {
  const modules = new Map<string, { exports: unknown }>();
  const names = Object.keys(framework);
  const values = names.map((name) => framework[name]);

  function load(file: string): unknown {
    const path = file.endsWith('.js') ? file : `${file}.js`;
    const cached = modules.get(path);
    if (cached) return cached.exports;
    const module = { exports: {} as unknown };
    modules.set(path, module);
    const source = readFileSync(path, 'utf8');
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- how the harness runs the built bundle
    const run = new Function('require', 'module', 'exports', ...names, `${source}\n//# sourceURL=${path}`);
    const requireFromBundle = (request: string) => {
      if (!request.startsWith('.')) throw new Error(`${path} requires "${request}", which a mini-program cannot`);
      return load(join(dirname(path), request));
    };
    run(requireFromBundle, module, module.exports, ...values);
    return module.exports;
  }

  return load;
}

function createPageInstance(
  config: FrameworkConfig,
  route: string,
  query: Record<string, string>,
  onRender: () => void,
): MiniProgramPageInstance {
  const data = cloneData(isDataRecord(config.data) ? config.data : { root: { cn: [] } });
  // The framework gives each instance its own copy of the config and of its data.
  const page: FrameworkConfig = Object.assign(Object.create(null) as FrameworkConfig, config, {
    route,
    __route__: route,
    options: query,
    data,
    setData(patch: Record<string, unknown>, callback?: () => void) {
      for (const [path, value] of Object.entries(patch)) {
        // Data crosses a thread boundary in WeChat; a JSON copy keeps the same semantics.
        setAtPath(data, path, value === undefined ? undefined : cloneData(value));
      }
      onRender();
      if (callback) queueMicrotask(callback);
    },
  });
  if (!isPageInstance(page)) throw new Error(`${route}: Page() config lacks Taro's lifecycles or event handler`);
  return page;
}

const PAGE_METHODS = ['eh', 'onLoad', 'onShow', 'onReady', 'onHide', 'onUnload', 'setData'] as const;

function isPageInstance(value: FrameworkConfig): value is FrameworkConfig & MiniProgramPageInstance {
  return PAGE_METHODS.every((name) => typeof value[name] === 'function') && isDataRecord(value.data);
}

/**
 * How the platform double says the mini-program was opened (its `getLaunchOptionsSync()`, when it
 * models one), so one object describes the launch; scene 1001 and the page without a query otherwise.
 */
export function readLaunchOptions(platformApi: Record<string, unknown>, pagePath: string): LaunchOptions {
  const read = platformApi.getLaunchOptionsSync;
  const answer: unknown = typeof read === 'function' ? read() : undefined;
  const fields = typeof answer === 'object' && answer !== null ? (answer as Partial<LaunchOptions>) : {};
  return {
    path: typeof fields.path === 'string' ? fields.path : pagePath,
    query: typeof fields.query === 'object' && fields.query !== null ? { ...fields.query } : {},
    scene: fields.scene ?? DEFAULT_SCENE,
  };
}

function createPageHandle(
  page: MiniProgramPageInstance,
  templates: Map<string, TemplateInfo>,
  renderListeners: Set<() => void>,
  reenter: MiniProgramPage['reenter'],
): MiniProgramPage {
  const root = () => page.data.root;

  function describe(node: DataNode): RenderedElement {
    const template = templates.get(String(node.nn));
    const attributes: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const attribute = template?.attributeByAlias[key];
      if (attribute) attributes[attribute] = value;
    }
    return {
      sid: String(node.sid),
      id: node.uid,
      tag: template?.tag ?? String(node.nn),
      className: node.cl ?? '',
      attributes,
      text: textOf(node),
    };
  }

  function requireNode(predicate: (node: DataNode) => boolean, description: string): NodePath {
    const found = findPaths(root(), predicate)[0];
    if (!found) throw new Error(`No element ${description} on the page. Page text:\n${textOf(root())}`);
    return found;
  }

  function tap(path: NodePath): void {
    const [target] = path;
    const targetRef = { id: target.uid ?? target.sid, dataset: { sid: target.sid } };
    // Native bubbling: every ancestor whose template binds tap receives the event, innermost first.
    for (const element of path) {
      if (!templates.get(String(element.nn))?.events.has('tap')) continue;
      page.eh({
        type: 'tap',
        timeStamp: Date.now(),
        target: targetRef,
        currentTarget: { id: element.uid ?? element.sid, dataset: { sid: element.sid } },
        detail: { x: 0, y: 0 },
        touches: [],
        changedTouches: [],
        mark: {},
      });
    }
  }

  function waitFor(
    predicate: () => boolean,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    description = 'the condition',
  ): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolvePromise, rejectPromise) => {
      const check = () => {
        if (!predicate()) return;
        cleanUp();
        resolvePromise();
      };
      const timer = setTimeout(() => {
        cleanUp();
        rejectPromise(
          new Error(`Timed out after ${timeoutMs} ms waiting for ${description}. Page text:\n${textOf(root())}`),
        );
      }, timeoutMs);
      const poll = setInterval(check, POLL_INTERVAL_MS);
      const cleanUp = () => {
        clearTimeout(timer);
        clearInterval(poll);
        renderListeners.delete(check);
      };
      renderListeners.add(check);
    });
  }

  return {
    page,
    text: () => textOf(root()),
    findById: (id) => {
      const found = findPaths(root(), (node) => node.uid === id)[0];
      return found ? describe(found[0]) : undefined;
    },
    findAllByText: (pattern) =>
      findPaths(root(), (node) => isElement(node) && matches(textOf(node), pattern))
        .sort((a, b) => b.length - a.length)
        .map(([node]) => describe(node)),
    tapById: (id) => tap(requireNode((node) => node.uid === id, `with id "${id}"`)),
    tapByText: (pattern) => {
      const candidates = findPaths(root(), (node) => isElement(node) && matches(textOf(node), pattern));
      if (candidates.length === 0) requireNode(() => false, `with text ${String(pattern)}`);
      tap(candidates.sort((a, b) => b.length - a.length)[0]);
    },
    waitForText: async (pattern, timeoutMs = DEFAULT_TIMEOUT_MS) => {
      await waitFor(() => matches(textOf(root()), pattern), timeoutMs, `text ${String(pattern)}`);
      return textOf(root());
    },
    waitFor,
    hide: () => page.onHide(),
    show: () => page.onShow(),
    unload: () => {
      page.onHide();
      page.onUnload();
    },
    trigger: (id, type, detail = {}) => {
      const [target] = requireNode((node) => node.uid === id, `with id "${id}"`);
      const template = templates.get(String(target.nn));
      if (!template?.events.has(type)) {
        throw new Error(`<${template?.tag ?? target.nn} id="${id}"> does not bind "${type}" in the bundle's templates`);
      }
      const targetRef = { id: target.uid ?? target.sid, dataset: { sid: target.sid } };
      page.eh({ type, timeStamp: Date.now(), target: targetRef, currentTarget: targetRef, detail, mark: {} });
    },
    reenter,
  };
}

/** A node followed by its ancestors up to (excluding) the root. */
type NodePath = DataNode[];

function findPaths(root: DataNode, predicate: (node: DataNode) => boolean): NodePath[] {
  const found: NodePath[] = [];
  const visit = (node: DataNode, ancestors: DataNode[]) => {
    const path = [node, ...ancestors];
    if (predicate(node)) found.push(path);
    for (const child of node.cn ?? []) visit(child, path);
  };
  for (const child of root.cn ?? []) visit(child, []);
  return found;
}

function isElement(node: DataNode): boolean {
  return node.v === undefined;
}

/** The visible text of a node of Taro's page data. */
function textOf(node: DataNode): string {
  return renderedText(node, (at) => (isElement(at) ? { children: at.cn ?? [] } : { text: at.v ?? '' }));
}

/**
 * The visible text of a rendered tree, as both page harnesses read it (this one and
 * simulated-weapp.ts): adjacent text nodes join as written; each child element with text starts a
 * new line. `read` says whether a node is text or an element with children.
 */
export function renderedText<Node>(
  node: Node,
  read: (node: Node) => { text: string } | { children: readonly Node[] },
): string {
  const own = read(node);
  if ('text' in own) return own.text;
  let text = '';
  for (const child of own.children) {
    const part = read(child);
    if ('text' in part) {
      text += part.text;
      continue;
    }
    const childText = renderedText(child, read);
    if (!childText) continue;
    if (text && !text.endsWith('\n')) text += '\n';
    text += `${childText}\n`;
  }
  return text.replace(/\n+$/, '');
}

/** Whether `text` holds `pattern` (a string) or matches it (a RegExp). */
export function matches(text: string, pattern: RegExp | string): boolean {
  return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
}

/**
 * Reads Taro's generated templates (`base.wxml` or `base.ttml`, the same shape):
 * `tmpl_0_<nn>` → native tag, attribute aliases, tap binding.
 */
function readTemplates(baseTemplatePath: string): Map<string, TemplateInfo> {
  const templates = new Map<string, TemplateInfo>();
  const templateSource = readFileSync(baseTemplatePath, 'utf8');
  const templatePattern = /<template name="tmpl_0_(\d+)">\s*<([\w-]+)([^>]*)>/g;
  for (const [, nodeNumber, tag, attributeText] of templateSource.matchAll(templatePattern)) {
    const attributeByAlias: Record<string, string> = {};
    for (const [, attribute, alias] of attributeText.matchAll(/([\w-]+)="\{\{[^}]*?\bi\.(\w+)/g)) {
      if (!NODE_BOOKKEEPING_KEYS.has(alias)) attributeByAlias[alias] = attribute;
    }
    const events = new Set([...attributeText.matchAll(/\bbind(\w+)="eh"/g)].map(([, type]) => type));
    templates.set(nodeNumber, { tag, attributeByAlias, events });
  }
  return templates;
}

/** Applies one Taro setData path such as `root.cn.[0].cn[2].v`. */
function setAtPath(target: object, path: string, value: unknown): void {
  const keys = [...path.matchAll(/\[(\d+)\]|[^.[\]]+/g)].map(([token, index]) =>
    index === undefined ? token : Number(index),
  );
  let cursor = target as Record<string | number, unknown>;
  keys.slice(0, -1).forEach((key, position) => {
    const existing = cursor[key];
    if (typeof existing !== 'object' || existing === null) {
      cursor[key] = typeof keys[position + 1] === 'number' ? [] : {};
    }
    cursor = cursor[key] as Record<string | number, unknown>;
  });
  cursor[keys[keys.length - 1]] = value;
}

function callLifecycle(instance: FrameworkConfig, name: string, argument: unknown): void {
  const lifecycle = instance[name];
  if (typeof lifecycle === 'function') lifecycle.call(instance, argument);
}

function cloneData<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function isDataRecord(value: unknown): value is { root: DataNode } {
  return typeof value === 'object' && value !== null && 'root' in value;
}
