// The type of the `t` a tap test callback receives, for helpers that take it.
import t from 'tap';

export type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];
