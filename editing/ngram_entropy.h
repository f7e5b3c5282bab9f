// Fluency as CounterFact measures it: the n-gram entropy of generated text, as in the
// ROME reference code (experiments/py/eval_utils_counterfact.py, `n_gram_entropy` and
// `compute_n_gram_entropy`):
//   H_n = −Σ_g f(g) log2 f(g) over the relative frequencies f of the word n-grams g,
//   entropy(text) = mean(2/3 · H_2, 4/3 · H_3) = H_2 / 3 + 2 H_3 / 3,
// and the fluency of a set of texts is the arithmetic mean of their entropies.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mwb {

// Word tokens of a text, approximating NLTK's word_tokenize (Penn Treebank rules)
// that the reference uses: split at white space; split off punctuation
// (. , ; : ! ? ( ) [ ] { } < > " and "..." and "--"; a comma or colon between digits
// stays, as in "1,000"; a period stays inside a word such as "U.S" and is split off
// only at the end of a word); split the clitics 's 'm 'd 're 've 'll n't.
// Differences from NLTK only concern rare abbreviations and quote styles, which do not
// change which tokens are equal and so hardly change the entropy.
std::vector<std::string> wordTokens(std::string_view text);

// H_n in bits of the n-grams of `tokens`; 0 when there are fewer than n tokens.
double nGramEntropy(const std::vector<std::string>& tokens, int n);

// The reference's weighted combination: mean(2/3 · H_2, 4/3 · H_3).
double weightedNGramEntropy(const std::vector<std::string>& tokens);

// The text as the reference sees it: it decodes the generation and keeps ASCII only
// (NFKD normalisation, then dropping non-ASCII). Here non-ASCII bytes are dropped; an
// accented letter therefore disappears instead of becoming its base letter.
std::string asciiOnly(std::string_view text);

// weightedNGramEntropy(wordTokens(asciiOnly(text))).
double textEntropy(std::string_view text);

}  // namespace mwb
