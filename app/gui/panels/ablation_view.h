// The result of an ablation side by side: next-token distributions before and after,
// KL divergence, stop-word mass, perplexity and greedy generations.
#pragma once

#include <QWidget>

#include "analysis/superweights/ablation.h"

class QLabel;
class QPlainTextEdit;

namespace mwb::gui {

class FigureView;

// The inputs the tabs compare on: the prompt, perplexity on the first 4,000 tokens of
// `heldout` (when given), the bundled stop words and 16 greedy tokens.
AblationInputs comparisonInputs(const Model& model, const std::string& prompt, const std::string& heldout);

class AblationView : public QWidget {
    Q_OBJECT
public:
    // `placeholder`: what to do to see a comparison (the default speaks of weights).
    explicit AblationView(QWidget* parent = nullptr, const QString& placeholder = {});

    // `model`: the name of the model compared, shown with the result.
    void show(const AblationResult& result, const QString& model);
    void clear();
    FigureView* figure() const { return m_figure; }
    QString metricsText() const;

private:
    FigureView* m_figure;
    QLabel* m_metrics;
    QPlainTextEdit* m_before;
    QPlainTextEdit* m_after;
};

}  // namespace mwb::gui
