/**
 * The paper's numbers (Ho, Schmid & Yun 2023), in percent, for the settings
 * ../shared/data/fine-tune-cot documents: the teacher's Zero-shot-CoT accuracy
 * (text-davinci-002, as measured on the shared teacher files) and the GPT-2
 * (124M) students, vanilla fine-tuning and Fine-tune-CoT. Settings the shared
 * material does not give are left out rather than guessed.
 */
export interface PaperRow {
  teacher?: number;
  vanilla?: number;
  ftCot?: number;
  /** The student the vanilla / Fine-tune-CoT numbers are for. */
  student?: string;
}

const GPT2 = 'GPT-2 (124M)';

export const PAPER_RESULTS: Record<string, PaperRow> = {
  multiarith: { teacher: 78.7 },
  last_letter_concatenation: { teacher: 57.6 },
  last_letters: { teacher: 57.6 },
  coin_flip: { teacher: 91.4, vanilla: 60.0, ftCot: 77.33, student: GPT2 },
  date_understanding: { teacher: 67.5 },
  tracking_shuffled_objects: { teacher: 52.4, vanilla: 33.78, ftCot: 38.67, student: GPT2 },
  shuffled_objects: { teacher: 52.4, vanilla: 33.78, ftCot: 38.67, student: GPT2 },
};
