// Hash routing: `#/runs` and the like. Works the same from file:// (Electron)
// and http:// (stepwise serve), and needs no server-side fallback.

export const pages = [
  { id: 'library', label: 'Library', blurb: 'Models you imported or trained' },
  { id: 'datasets', label: 'Datasets', blurb: 'Reasoning data with chain-of-thought' },
  { id: 'runs', label: 'Runs', blurb: 'Training runs and their status' },
  { id: 'curriculum', label: 'Curriculum', blurb: 'Stepwise Internalization schedules' },
  { id: 'probes', label: 'Probes', blurb: 'What the hidden states still encode' },
  { id: 'bitune', label: 'Bitune', blurb: 'LoRA against Bitune, and the learned mixing' },
  { id: 'finetune-cot', label: 'Fine-tune-CoT', blurb: 'Teachers write rationales, students learn from them' },
  { id: 'compare', label: 'Compare', blurb: 'Runs side by side' },
  { id: 'welcome', label: 'Get started', blurb: 'A first trained model in a few clicks' },
] as const;

export type PageId = (typeof pages)[number]['id'];

const DEFAULT_PAGE: PageId = 'library';

function parse(hash: string): { page: PageId; rest: string[] } {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const first = parts[0];
  const page = pages.find((p) => p.id === first)?.id ?? DEFAULT_PAGE;
  return { page, rest: page === first ? parts.slice(1) : [] };
}

class Router {
  page = $state<PageId>(DEFAULT_PAGE);
  /** Path segments after the page, e.g. a run id in `#/runs/<id>`. */
  rest = $state<string[]>([]);

  constructor() {
    this.read();
    window.addEventListener('hashchange', () => this.read());
  }

  href(page: PageId, ...rest: string[]): string {
    return '#/' + [page, ...rest].map(encodeURIComponent).join('/');
  }

  private read(): void {
    const { page, rest } = parse(window.location.hash);
    this.page = page;
    this.rest = rest;
  }
}

export const router = new Router();
