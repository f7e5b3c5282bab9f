// workbench — the Qt6 GUI. Opens the model named on the command line, else the last
// model used, else the bundled demo model.
#include <cstdio>

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTimer>

#include "app/gui/jobs/job_status.h"
#include "app/gui/main_window.h"
#include "app/gui/resources.h"
#include "app/gui/screenshot_tour.h"
#include "app/gui/workspace.h"
#include "tensor/allocator.h"

namespace {

QString startupModel(const QStringList& args, const mwb::gui::Workspace& workspace) {
    if (!args.isEmpty()) return args.front();
    const QStringList recent = workspace.recentFiles();
    if (!recent.isEmpty() && QFileInfo::exists(recent.front())) return recent.front();
    return mwb::gui::demoModelFile();
}

}  // namespace

int main(int argc, char** argv) {
    mwb::keepFreedMemoryForReuse();
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("mwb"));
    QApplication::setApplicationName(QStringLiteral("workbench"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Look inside transformer language models and rewrite what they know."));
    parser.addHelpOption();
    parser.addPositionalArgument(QStringLiteral("model"), QStringLiteral("Model file (.h5) to open"));
    const QCommandLineOption prompt(QStringLiteral("prompt"), QStringLiteral("Initial prompt"), QStringLiteral("text"),
                                    QStringLiteral("The Eiffel Tower is located in the city of"));
    const QCommandLineOption subject(QStringLiteral("subject"), QStringLiteral("Initial subject for the Trace and Experts tabs"),
                                     QStringLiteral("text"), QStringLiteral("Eiffel Tower"));
    const QCommandLineOption tour(QStringLiteral("screenshot-tour"),
                                  QStringLiteral("Run every tab, save screenshots to DIR and quit"), QStringLiteral("DIR"));
    const QCommandLineOption size(QStringLiteral("size"), QStringLiteral("Window size, e.g. 1024x700"),
                                  QStringLiteral("WxH"));
    parser.addOptions({prompt, subject, tour, size});
    parser.process(app);

    mwb::gui::MainWindow window;
    if (parser.isSet(size)) {
        const QStringList wh = parser.value(size).split(QLatin1Char('x'));
        const int w = wh.size() == 2 ? wh[0].toInt() : 0, h = wh.size() == 2 ? wh[1].toInt() : 0;
        if (w < 200 || h < 200) {
            std::fprintf(stderr, "workbench: --size must be WIDTHxHEIGHT, e.g. 1024x700\n");
            return 1;
        }
        window.resize(w, h);
    }
    window.workspace()->setPrompt(parser.value(prompt));
    // The tabs that take a subject (Trace, Experts) fill their field from it.
    if (parser.isSet(subject)) emit window.workspace()->subjectChosen(parser.value(subject));
    const QString model = startupModel(parser.positionalArguments(), *window.workspace());
    if (model.isEmpty())
        window.jobStatus()->showMessage(QObject::tr("Open a model with File > Open (Ctrl+O) or drop an .h5 file here."));
    else
        window.workspace()->openModel(model);
    window.show();

    if (parser.isSet(tour)) {
        if (model.isEmpty()) {
            std::fprintf(stderr, "workbench: no model to tour; give one on the command line\n");
            return 1;
        }
        auto* run = new mwb::gui::ScreenshotTour(&window, parser.value(tour), &app);
        QObject::connect(run, &mwb::gui::ScreenshotTour::finished, &app, [run](bool ok) {
            for (const QString& file : run->saved()) std::printf("%s\n", qPrintable(file));
            QCoreApplication::exit(ok ? 0 : 1);
        });
        QTimer::singleShot(0, run, &mwb::gui::ScreenshotTour::start);
    }
    return app.exec();
}
