/**
 * Chat personas: named system prompts, written in Brazilian Portuguese for the models
 * Bentevi trains.
 *
 * @module
 */

/** A named system prompt. */
export interface Persona {
  /** The name typed after `--persona` or `/persona`. */
  name: string;
  /** One line for `/help` and `--help`. */
  description: string;
  /** The system prompt. */
  system: string;
  /**
   * The LoRA adapter this persona answers with, by its `--adapter NAME=DIR` name; without one,
   * an adapter loaded under the persona's own name (`--adapter tecnico=runs/tec`).
   */
  adapter?: string;
}

/** The built-in personas, by name. */
export const PERSONAS: ReadonlyMap<string, Persona> = new Map(
  [
    {
      name: "tecnico",
      description: "precise and technical, explains terms and gives examples",
      system: "Você é um assistente técnico. Responda em português do Brasil de forma precisa e " +
        "objetiva, explique os termos técnicos quando for preciso e dê exemplos concretos.",
    },
    {
      name: "casual",
      description: "relaxed and friendly, short sentences",
      system:
        "Você é um assistente descontraído e simpático. Responda em português do Brasil num " +
        "tom leve e informal, com frases curtas, como numa conversa entre amigos.",
    },
    {
      name: "formal",
      description: "courteous and formal register",
      system:
        "Você é um assistente cortês e formal. Responda em português do Brasil com linguagem " +
        'culta, clara e respeitosa, tratando o interlocutor por "o senhor" ou "a senhora".',
    },
  ].map((p) => [p.name, p]),
);

/**
 * The adapter persona `p` answers with among the `loaded` names: its own `adapter`, else one
 * named like the persona, else none.
 *
 * @example
 * ```ts
 * import { personaAdapter, PERSONAS } from "./personas.ts";
 * console.log(personaAdapter(PERSONAS.get("tecnico")!, ["tecnico", "casual"])); // "tecnico"
 * ```
 */
export function personaAdapter(p: Persona, loaded: readonly string[]): string | undefined {
  if (p.adapter !== undefined && loaded.includes(p.adapter)) return p.adapter;
  return loaded.includes(p.name) ? p.name : undefined;
}

/** The system prompt used when neither a persona nor `--system` is given. */
export const DEFAULT_SYSTEM_PROMPT =
  "Você é um assistente prestativo que responde em português do Brasil.";

/**
 * Looks a persona up by name (case and accents ignored: `técnico` is `tecnico`).
 *
 * @example
 * ```ts
 * import { findPersona } from "./personas.ts";
 * console.log(findPersona("Técnico")?.name); // "tecnico"
 * ```
 */
export function findPersona(name: string): Persona | undefined {
  const key = name.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase().trim();
  return PERSONAS.get(key);
}
