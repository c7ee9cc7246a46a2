/** The preprocessing the trainer shares with the streaming engine (Keras-compatible). */
export { Tokenizer, padSequences, StandardScaler, type KerasTokenizerJson, type StandardScalerJson } from '@app/lstm';
