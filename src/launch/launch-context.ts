import { isRecord } from '../api/errors';
import { appContextAfter } from './scene-policy';

/** Reads the platform's launch options (`getLaunchOptionsSync` / `getEnterOptionsSync`). */
export interface LaunchOptionsReader {
  /** The scene of the cold start. */
  launchScene(): number | undefined;
  /** The scene of the latest entry (WeChat base library ≥ 2.9.4); undefined where the API is missing. */
  enterScene(): number | undefined;
}

/**
 * - `available`: show the return button;
 * - `refused`: the platform refused the button in this entry (`binderror`): tell the shopper to go back by hand;
 * - `unavailable`: no return button on this platform or in this scene: a plain instruction.
 */
export type ReturnToAppAvailability = 'available' | 'refused' | 'unavailable';

export interface LaunchContext {
  /** The App's `onShow` (each time the mini-program comes to the foreground), with its options. */
  appShown(options: unknown): void;
  /** The return button failed (`binderror`); holds until the mini-program is entered again. */
  returnRefused(): void;
  /** The entry scenes seen in this session, oldest first. */
  scenes(): number[];
  returnToAppAvailability(): ReturnToAppAvailability;
  /** Called whenever availability may have changed; returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
}

export interface LaunchContextOptions {
  reader: LaunchOptionsReader;
  /** Whether the platform has a return-to-app button at all (`open-type="launchApp"`). */
  launchAppSupported: boolean;
}

export function createLaunchContext({ reader, launchAppSupported }: LaunchContextOptions): LaunchContext {
  const shownScenes: number[] = [];
  /** How many entries had been seen when the button was refused; refused for that entry only. */
  let refusedAtEntry: number | undefined;
  const listeners = new Set<() => void>();
  const notify = () => [...listeners].forEach((listener) => listener());

  function scenes(): number[] {
    // The launch scene comes first; the enter scene is the latest entry even when an App onShow was missed.
    const ordered = [reader.launchScene(), ...shownScenes, reader.enterScene()];
    return ordered.filter((scene): scene is number => scene !== undefined);
  }

  return {
    appShown(options) {
      const scene = sceneOf(options);
      if (scene === undefined) return;
      shownScenes.push(scene);
      notify();
    },
    returnRefused() {
      refusedAtEntry = shownScenes.length;
      notify();
    },
    scenes,
    returnToAppAvailability() {
      if (!launchAppSupported) return 'unavailable';
      if (refusedAtEntry === shownScenes.length) return 'refused';
      return appContextAfter(scenes()) ? 'available' : 'unavailable';
    },
    subscribe(listener) {
      const subscription = () => listener();
      listeners.add(subscription);
      return () => listeners.delete(subscription);
    },
  };
}

/** `scene` of launch or show options: a number on WeChat (Douyin gives strings such as "011004"). */
export function sceneOf(options: unknown): number | undefined {
  const scene = isRecord(options) ? options.scene : undefined;
  if (typeof scene === 'number' && Number.isInteger(scene)) return scene;
  if (typeof scene === 'string' && /^\d+$/.test(scene)) return Number(scene);
  return undefined;
}
