// Light/dark follows the OS (`prefers-color-scheme`) unless the user picks one;
// the pick is kept in localStorage. The stylesheet reads data-theme on <html>.

export type ThemeChoice = 'system' | 'light' | 'dark';

const STORAGE_KEY = 'stepwise.theme';
const CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];

function readStored(): ThemeChoice {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return CHOICES.includes(v as ThemeChoice) ? (v as ThemeChoice) : 'system';
  } catch {
    return 'system'; // storage can be unavailable (privacy settings); fall back quietly
  }
}

const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

class Theme {
  choice = $state<ThemeChoice>(readStored());
  systemDark = $state(darkQuery.matches);
  /** What is on screen now. */
  effective = $derived<'light' | 'dark'>(
    this.choice === 'system' ? (this.systemDark ? 'dark' : 'light') : this.choice,
  );

  constructor() {
    darkQuery.addEventListener('change', (e) => {
      this.systemDark = e.matches;
    });
    this.apply();
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    try {
      if (choice === 'system') localStorage.removeItem(STORAGE_KEY);
      else localStorage.setItem(STORAGE_KEY, choice);
    } catch {
      // not persisted; the choice still holds for this session
    }
    this.apply();
  }

  private apply(): void {
    const root = document.documentElement;
    if (this.choice === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.choice;
  }
}

export const theme = new Theme();
export const themeChoices = CHOICES;
