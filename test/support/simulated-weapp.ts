/**
 * Renders a compiled Taro weapp page (`dist/weapp`) with miniprogram-simulate, WeChat's toolkit for
 * unit-testing custom components, so that what a test reads and taps is what WeChat's template
 * engine made of the bundle's templates:
 * - WeChat's WXML compiler `wcc` (miniprogram-compiler, chosen by simulate's `compiler: 'official'`)
 *   compiles the page's `index.wxml`, Taro's recursive `base.wxml` templates (`<import>`,
 *   `<template is>`), `comp.wxml` and the `utils.wxs` module they call;
 * - WeChat's exparser (through j-component) builds the element tree from that and applies Taro's
 *   `setData` path patches;
 * - a tap is simulate's `dispatchEvent('tap')` on a rendered element, which reaches the page only
 *   through the `bindtap="eh"` the templates put on that element.
 * (simulate's own JavaScript WXML compiler, `compiler: 'simulate'`, cannot render Taro's output: it
 * renders `<import>`, `<include>` and `<template>` as nothing and reads `<wxs>` only inline, not `src`.)
 *
 * miniprogram-simulate models custom components, not the mini-program framework around them, so this
 * module plays the little of the framework the page needs, and nothing of the rendering:
 * - a DOM (jsdom), which simulate and exparser render into (simulate expects jest's jsdom environment;
 *   the end-to-end project runs in `node`, which the server under test needs);
 * - `App`, `getApp`, `getCurrentPages`, and App `onLaunch` / `onShow` with the launch options;
 * - `Page(config)`, registered through simulate's `Component` as WeChat documents building a page
 *   with the Component constructor: the page's lifecycles and handlers become `methods`, its `data`
 *   the data; the framework's calls on a page (`onLoad(query)`, `onShow`, `onReady`, `onHide`,
 *   `onUnload`) are made here, and the page gets WeChat's `route` and `options`;
 * - `wx`: simulate's mock `wx` with the test's double laid over it (the double's APIs win);
 * - WeChat's `<button open-type="launchApp">`: simulate's built-in `button` is a bare `<slot/>`, so the
 *   native action of tapping it (WeChat opens the app and hands it `app-parameter` as `extMsg`) is
 *   recorded here from the button's rendered attributes (`launchedApps`).
 *
 * Each call loads the bundle afresh (a cold start of the mini-program): the bundle's modules run in
 * an isolated Jest module registry, and `wx` and the framework functions are globals while it loads,
 * as the bundle expects. It builds nothing: see `buildMiniProgram`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { matches, readLaunchOptions, renderedText } from './miniprogram-harness';

export interface LoadSimulatedWeappPageOptions {
  /** The weapp build output, e.g. from `buildMiniProgram('weapp', …)`. */
  distDir: string;
  /**
   * The test's `wx` double (see `createWxDouble`), laid over simulate's mock `wx`. Its
   * `getLaunchOptionsSync()`, when it has one, is how WeChat opened the mini-program.
   */
  wx: Record<string, unknown>;
  /** @default the first page of app.json */
  pagePath?: string;
  /** How long to wait for the first render. @default 5000 */
  firstRenderTimeoutMs?: number;
}

/** A rendered element, as simulate serialises it (`toJSON()`). */
export interface SimulatedElement {
  /** The WXML tag, e.g. `button`, `view`, `text` (simulate's `wx-` prefix removed). */
  tag: string;
  /**
   * The attributes WeChat's template set, with their rendered values, named as WeChat's compiler
   * names them: properties in camelCase (`openType`, `appParameter`), `data-*`, `id`, `class`, `style`.
   */
  attributes: Record<string, unknown>;
  /** Text of the element and its descendants; each child element on its own line. */
  text: string;
}

/** What WeChat does natively when the shopper taps `<button open-type="launchApp">`. */
export interface LaunchedApp {
  /** `app-parameter` as rendered, which the app receives as `extMsg`. */
  appParameter: string;
}

export interface SimulatedWeappPage {
  /** The visible text of the rendered page; elements on separate lines. */
  text(): string;
  /** The first rendered element matching a selector (exparser's), e.g. `#pay-button`. */
  find(selector: string): SimulatedElement | undefined;
  /**
   * Taps the rendered element (simulate's `dispatchEvent('tap')`). A tap on an enabled
   * `open-type="launchApp"` button also does what WeChat does natively: see `launchedApps`.
   */
  tap(selector: string): void;
  /** Fires a non-tap event on the rendered element, e.g. `error` of a `launchApp` button WeChat refused. */
  trigger(selector: string, type: string, detail?: Record<string, unknown>): void;
  /** Apps WeChat opened from the page's `launchApp` buttons, in order. */
  readonly launchedApps: LaunchedApp[];
  /** Resolves with the page text once it matches; rejects with the last text after `timeoutMs`. */
  waitForText(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Resolves once `predicate` holds (checked every few milliseconds); rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number, description?: string): Promise<void>;
  /** Fires `onHide` then `onUnload`, and removes the page from the DOM. */
  unload(): void;
}

/** The parts of miniprogram-simulate (and the j-component objects it returns) this module uses. */
interface Simulate {
  load(componentPath: string, options: { compiler: 'official'; rootPath: string }): string;
  render(id: string): SimulatedComponent;
}

interface SimulatedComponent {
  readonly instance: Record<string, unknown>;
  querySelector(selector: string): SimulatedComponent | undefined;
  dispatchEvent(eventName: string, options?: { detail?: Record<string, unknown> }): void;
  toJSON(): SimulatedJson;
  attach(parent: unknown): void;
  detach(): void;
}

interface SimulatedJson {
  tagName: string;
  attrs: Array<{ name: string; value: unknown }>;
  children: Array<SimulatedJson | string>;
}

type FrameworkConfig = Record<string, unknown>;

const DEFAULT_TIMEOUT_MS = 5000;
const POLL_INTERVAL_MS = 20;
/** Page lifecycles WeChat calls; a page built with `Component()` has them as methods. */
const PAGE_LIFECYCLES = ['onLoad', 'onShow', 'onReady', 'onHide', 'onUnload'] as const;

/** The little of jsdom's window this module hands to simulate. */
interface DomWindow {
  document: { createElement(tagName: string): unknown };
  CustomEvent: unknown;
  TouchEvent: unknown;
}

interface SimulateEnvironment {
  simulate: Simulate;
  /** simulate's mock `wx`, as it installed it. */
  simulatedWx: Record<string, unknown>;
  document: DomWindow['document'];
}

let environment: SimulateEnvironment | undefined;

/**
 * jsdom's window, document and the event constructors simulate dispatches with, then simulate
 * itself (it reads `window` and installs `wx`, `Component` and `Behavior` when first required).
 * Once per test file: Jest gives each file its own globals.
 */
function simulateEnvironment(): SimulateEnvironment {
  if (environment) return environment;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded on first use, into globals the
     bundle and simulate read at load time; jsdom and miniprogram-simulate are untyped here */
  const { JSDOM } = require('jsdom') as { JSDOM: new (html: string) => { window: DomWindow } };
  const { window } = new JSDOM('<!doctype html><html><head></head><body></body></html>');
  Object.assign(globalThis, {
    window,
    document: window.document,
    CustomEvent: window.CustomEvent,
    TouchEvent: window.TouchEvent,
  });
  const simulate = require('miniprogram-simulate') as Simulate;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const simulatedWx = (globalThis as unknown as { wx: Record<string, unknown> }).wx;
  environment = { simulate, simulatedWx, document: window.document };
  return environment;
}

/**
 * Starts the mini-program from `distDir` and renders its page with miniprogram-simulate: runs
 * `app.js` (App `onLaunch` / `onShow` with the double's launch options), loads the page through
 * `simulate.load(…, {compiler: 'official'})`, renders and attaches it, then calls `onLoad(query)`,
 * `onShow`, `onReady` as WeChat does. Resolves once something is rendered; rejects after
 * `firstRenderTimeoutMs`, or at once when `distDir` holds no weapp build.
 */
export async function loadSimulatedWeappPage(options: LoadSimulatedWeappPageOptions): Promise<SimulatedWeappPage> {
  const distDir = resolve(options.distDir);
  const appJsonPath = join(distDir, 'app.json');
  if (!existsSync(appJsonPath) || !existsSync(join(distDir, 'base.wxml'))) {
    throw new Error(`No weapp build in ${distDir}: run \`npx taro build --type weapp\` first`);
  }
  const appJson = JSON.parse(readFileSync(appJsonPath, 'utf8')) as { pages: string[] };
  const pagePath = options.pagePath ?? appJson.pages[0];
  const launch = readLaunchOptions(options.wx, pagePath);
  const { simulate, simulatedWx, document } = simulateEnvironment();

  let app: FrameworkConfig | undefined;
  const pageStack: FrameworkConfig[] = [];
  const globals = globalThis as unknown as Record<string, unknown>;
  const registerComponent = globals.Component as (definition: FrameworkConfig) => void;
  Object.assign(globals, {
    wx: { ...simulatedWx, ...options.wx },
    App(config: FrameworkConfig) {
      app = config;
    },
    getApp: () => app,
    getCurrentPages: () => [...pageStack],
    Page(config: FrameworkConfig) {
      registerComponent(pageAsComponent(config));
    },
  });

  let componentId = '';
  jest.isolateModules(() => {
    // app.js requires the webpack runtime and the shared chunks; the page's and `comp`'s scripts,
    // which simulate runs while loading the page, push their chunks onto it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle is CommonJS, loaded at run time
    require(join(distDir, 'app.js'));
    if (!app) throw new Error('app.js did not call App()');
    callLifecycle(app, 'onLaunch', launch);
    callLifecycle(app, 'onShow', launch);
    componentId = simulate.load(join(distDir, pagePath), { compiler: 'official', rootPath: distDir });
  });

  const component = simulate.render(componentId);
  component.attach(document.createElement('page-container'));
  const page = component.instance;
  for (const lifecycle of PAGE_LIFECYCLES) {
    if (typeof page[lifecycle] !== 'function') throw new Error(`${pagePath}: Page() config lacks ${lifecycle}`);
  }
  // What WeChat sets on every page instance.
  Object.assign(page, { route: pagePath, options: { ...launch.query } });
  pageStack.push(page);
  const callPage = (lifecycle: (typeof PAGE_LIFECYCLES)[number], argument?: unknown) =>
    (page[lifecycle] as (argument?: unknown) => void).call(page, argument);
  callPage('onLoad', { ...launch.query });
  callPage('onShow');
  callPage('onReady');

  const handle = createHandle(component, () => {
    callPage('onHide');
    callPage('onUnload');
    pageStack.splice(pageStack.indexOf(page), 1);
    component.detach();
  });
  await handle.waitFor(
    () => (component.toJSON().children ?? []).length > 0,
    options.firstRenderTimeoutMs ?? DEFAULT_TIMEOUT_MS,
    'the first render',
  );
  return handle;
}

/**
 * WeChat's mapping of a page onto the Component constructor: lifecycles and handlers are methods.
 * Anything else would be dropped silently, so it is refused.
 */
function pageAsComponent(config: FrameworkConfig): FrameworkConfig {
  const methods: Record<string, unknown> = {};
  const component: FrameworkConfig = { methods };
  for (const [key, value] of Object.entries(config)) {
    if (key === 'data' || key === 'behaviors') component[key] = value;
    else if (typeof value === 'function') methods[key] = value;
    else throw new Error(`Page() option "${key}" has no counterpart in a Component()-built page`);
  }
  return component;
}

function createHandle(component: SimulatedComponent, unload: () => void): SimulatedWeappPage {
  const launchedApps: LaunchedApp[] = [];

  function requireElement(selector: string): SimulatedComponent {
    const element = component.querySelector(selector);
    if (!element)
      throw new Error(`Nothing rendered matches ${selector}; the page shows:\n${textOf(component.toJSON())}`);
    return element;
  }

  async function waitFor(predicate: () => boolean, timeoutMs = DEFAULT_TIMEOUT_MS, description = 'the condition') {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out after ${timeoutMs} ms waiting for ${description}; the page shows:\n${textOf(component.toJSON())}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }

  return {
    text: () => textOf(component.toJSON()),
    find(selector) {
      const element = component.querySelector(selector);
      return element && describe(element.toJSON());
    },
    tap(selector) {
      const element = requireElement(selector);
      const { tag, attributes } = describe(element.toJSON());
      element.dispatchEvent('tap');
      if (tag === 'button' && attributes.openType === 'launchApp' && !attributes.disabled) {
        launchedApps.push({ appParameter: typeof attributes.appParameter === 'string' ? attributes.appParameter : '' });
      }
    },
    trigger(selector, type, detail = {}) {
      requireElement(selector).dispatchEvent(type, { detail });
    },
    launchedApps,
    async waitForText(pattern, timeoutMs = DEFAULT_TIMEOUT_MS) {
      await waitFor(() => matches(textOf(component.toJSON()), pattern), timeoutMs, `text ${String(pattern)}`);
      return textOf(component.toJSON());
    },
    waitFor,
    unload,
  };
}

function describe(json: SimulatedJson): SimulatedElement {
  const attributes: Record<string, unknown> = {};
  for (const { name, value } of json.attrs) attributes[name] = value;
  return { tag: json.tagName.replace(/^wx-/, ''), attributes, text: textOf(json) };
}

function textOf(node: SimulatedJson | string): string {
  return renderedText(node, (at) => (typeof at === 'string' ? { text: at } : { children: at.children }));
}

function callLifecycle(instance: FrameworkConfig, name: string, argument: unknown): void {
  const lifecycle = instance[name];
  if (typeof lifecycle === 'function') lifecycle.call(instance, argument);
}
