/** The part of Hotwire Turbo 8 the widget uses (the package ships no types). */
declare module '@hotwired/turbo' {
  export interface VisitOptions {
    action?: 'advance' | 'replace' | 'restore';
    /** A response already in hand: Turbo renders it instead of fetching the location. */
    response?: { statusCode: number; responseHTML: string; redirected: boolean };
  }
  export function visit(location: string | URL, options?: VisitOptions): void;
  export const config: { drive: { progressBarDelay: number; enabled: boolean } };
}

interface TurboFetchResponse {
  readonly response: Response;
  readonly responseHTML: Promise<string | undefined>;
}

interface TurboBeforeRenderDetail {
  newBody: HTMLElement;
  render: (currentElement: HTMLElement, newElement: HTMLElement) => void | Promise<void>;
  renderMethod: string;
  resume: (value?: unknown) => void;
}

interface DocumentEventMap {
  'turbo:load': CustomEvent<{ url: string }>;
  'turbo:render': CustomEvent<{ renderMethod: string }>;
  'turbo:before-render': CustomEvent<TurboBeforeRenderDetail>;
  'turbo:before-fetch-response': CustomEvent<{ fetchResponse: TurboFetchResponse }>;
  'turbo:submit-start': CustomEvent<{ formSubmission: { formElement: HTMLFormElement } }>;
}
