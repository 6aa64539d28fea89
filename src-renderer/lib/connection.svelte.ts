// Whether the last call reached Stepwise, for the status bar.
export const connection = $state({
  /** false after a call got no answer, until one does again. */
  reachable: true,
  lastError: '',
});
