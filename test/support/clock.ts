/** A clock the test moves by hand; the engine never reads the real time. Shared with the demo. */
export { ManualClock as TestClock, SECOND, MINUTE, HOUR } from '../../src/demo/clock.ts';
